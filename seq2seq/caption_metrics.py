"""`python -m seq2seq.caption_metrics` (captioning's scoring command), kept for one
release: the command lives in seq2seq.tasks.captioning.metrics, its task's package."""
from seq2seq.tasks.captioning.metrics import main

if __name__ == "__main__":
    main()
