"""`from seq2seq.classification import Classifier`, kept for one release: the class lives in
seq2seq.tasks.classification.classifier, its task's package (issue 28); `seq2seq.Classifier` and
`seq2seq.load(run)` are the lasting ways to reach it."""
from seq2seq.tasks.classification.classifier import Classifier  # noqa: F401
