"""Captioning (an image, or a video's frames -> text: Show and Tell, Show Attend and Tell,
LRCN):

    task.py        Captioning: BLEU-1..4, CIDEr-D, exact match, CER; best.pt on CIDEr-D
    records.py     captioned images on disk: imagefolder, Karpathy's JSON, Flickr's files
    images.py      an image or a video's frames as uint8 at the run's size
    prepare.py     captioned images -> resized uint8 arrays and caption ids
    arrays.py      prepared images (memory-mapped) and their captions' ids
    backbones.py   the CNNs: a small one from scratch, torchvision ResNets
    feature_cache.py  a frozen backbone's grids, computed once
    encoders.py    ImageEncoder (model/encoder=image), FrameEncoder (model/encoder=frames)
    metrics.py     BLEU-1..4 with signatures, CIDEr-D, exact match, CER
    score.py       python -m seq2seq.tasks.captioning.score: those scores of a file
    captioner.py   Captioner: the Python API (a run or an ensemble)
    contact_sheet.py  test images with their captions and references (matplotlib)
    cli.py         seq2seq-caption: images in, a caption each

`Captioning` is imported when asked for.
"""


def __getattr__(name: str):
    if name == "Captioning":
        from seq2seq.tasks.captioning.task import Captioning
        return Captioning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
