"""Classification (text -> one label: sentiment, topics):

    task.py        Classification: accuracy, macro-F1, confusion; best.pt on accuracy;
                   a language model's layers as the start (ULMFiT)
    labelled.py    labelled text on disk: TSV, CSV, JSONL, label folders
    prepare.py     labelled text -> sentencepiece ids and label ids (LabelledDataConfig)
    model.py       SequenceClassifier(encoder, ClassifierHead): model/decoder=classifier
    classifier.py  Classifier: the Python API (a run or an ensemble; probabilities)
    cli.py         seq2seq-classify: N texts in, N labels (or probabilities) out

`Classification` is imported when asked for.
"""


def __getattr__(name: str):
    if name == "Classification":
        from seq2seq.tasks.classification.task import Classification
        return Classification
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
