"""`python -m seq2seq.classify` (seq2seq-classify), kept for one release: the command lives in
seq2seq.tasks.classification.cli, its task's package (issue 28)."""
from seq2seq.tasks.classification.cli import main

if __name__ == "__main__":
    main()
