"""`python -m seq2seq.sample` (seq2seq-sample), kept for one release: the command lives in
seq2seq.tasks.language_model.sample, its task's package (issue 28)."""
from seq2seq.tasks.language_model.sample import Sampler, main  # noqa: F401

if __name__ == "__main__":
    main()
