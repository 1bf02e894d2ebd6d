"""`python -m seq2seq.caption` (seq2seq-caption), kept for one release: the command lives in
seq2seq.tasks.captioning.cli, its task's package (issue 28)."""
from seq2seq.tasks.captioning.cli import main

if __name__ == "__main__":
    main()
