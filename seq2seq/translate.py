"""`python -m seq2seq.translate` (seq2seq-translate), kept for one release: the command lives in
seq2seq.tasks.translation.cli, its task's package (issue 28)."""
from seq2seq.tasks.translation.cli import main

if __name__ == "__main__":
    main()
