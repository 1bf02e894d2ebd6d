"""`from seq2seq.captioner import Captioner`, kept for one release: the class lives in
seq2seq.tasks.captioning.captioner, its task's package (issue 28); `seq2seq.Captioner` and
`seq2seq.load(run)` are the lasting ways to reach it."""
from seq2seq.tasks.captioning.captioner import Captioner  # noqa: F401
