"""`from seq2seq.translator import Translator`, kept for one release: the class lives in
seq2seq.tasks.translation.translator, its task's package (issue 28); `seq2seq.Translator` and
`seq2seq.load(run)` are the lasting ways to reach it."""
from seq2seq.tasks.translation.translator import Translator  # noqa: F401
