"""seq2seq: stacked-LSTM encoder-decoders for machine translation (Sutskever et al. 2014).

    import seq2seq
    seq2seq.load("runs/demo").translate(["Hola."], beam=5)         # a Translator
    seq2seq.load("runs/sentiment").predict(["A gorgeous, witty film."])   # a Classifier
    seq2seq.load("runs/emoji").caption(["apple.png"])             # a Captioner
    seq2seq.load("runs/lm_en").sample(5, temperature=0.8)         # a Sampler
    seq2seq.load("runs/upos").predict(["I saw her duck ."])       # a Tagger
    seq2seq.load("runs/a", "runs/b")                              # an ensemble
    seq2seq.load("exports/demo")            # seq2seq-export's directory, as a run
    seq2seq.load("hf://owner/name")         # one published on the Hugging Face hub

`load` reads the run's task and makes its predictor; `Translator.from_run(...)` and the
others do the same for a task known beforehand.
"""

import os

# oneDNN (torch's CPU kernels) keeps every primitive and reordered weight it has built,
# one per tensor shape; bf16 search makes new shapes every batch (the beam shrinks as
# sentences finish), and memory grew ~30 MB a batch: 871 MB peak translating the 1,345
# test verses against 386 MB with these bounds, at the same speed (bench/results.md).
# Read by oneDNN when first used, so setting them here, before any computation, works;
# a value the user exported wins.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64")
os.environ.setdefault("LRU_CACHE_CAPACITY", "64")

from seq2seq import moved

moved.install()  # the flat module paths of before issue 28, for one release

__version__ = "0.1.0"
__all__ = ["load", "Translator", "Classifier", "Captioner", "Sampler", "Tagger"]


def load(*runs, device: str = "auto", precision: str | None = None):
    """The predictor of the runs' task: a Translator, Classifier, Captioner, Sampler or Tagger, or a
    plugged-in task's; several runs make an ensemble (the predictor checks that they fit).
    `precision` (fp32 | bf16 | int8 | auto) replaces the run's decode.precision for a
    predictor that searches (Translator, Captioner); a Classifier or Tagger takes fp32 or
    int8."""
    from pathlib import Path

    from seq2seq.export.locate import locate
    from seq2seq.tasks import task_class
    from seq2seq.training.checkpoint import run_task
    if not runs:
        raise ValueError("seq2seq.load needs at least one run directory")
    runs = locate(runs)  # hf://owner/name: its snapshot; an ensemble export: its members
    predictor = task_class(run_task(Path(runs[0]))).predictor.from_run(*runs, device=device)
    if precision is not None:
        if not hasattr(predictor, "use_precision"):
            raise ValueError(f"precision={precision!r}: a {type(predictor).__name__} runs in "
                             "fp32 only")
        predictor.use_precision(precision)
    return predictor


def __getattr__(name: str):
    # Imported on first use: `import seq2seq` alone (every console script does) stays light.
    if name == "Translator":
        from seq2seq.tasks.translation.translator import Translator
        return Translator
    if name == "Classifier":
        from seq2seq.tasks.classification.classifier import Classifier
        return Classifier
    if name == "Captioner":
        from seq2seq.tasks.captioning.captioner import Captioner
        return Captioner
    if name == "Sampler":
        from seq2seq.tasks.language_model.sample import Sampler
        return Sampler
    if name == "Tagger":
        from seq2seq.tasks.tagging.tagger import Tagger
        return Tagger
    raise AttributeError(f"module 'seq2seq' has no attribute {name!r}")
