"""seq2seq: stacked-LSTM encoder-decoders for machine translation (Sutskever et al. 2014).

    from seq2seq import Translator
    Translator.from_run("runs/demo").translate(["Hola."], beam=5)
"""

__version__ = "0.1.0"
__all__ = ["Translator"]


def __getattr__(name: str):
    # Imported on first use: `import seq2seq` alone (every console script does) stays light.
    if name == "Translator":
        from seq2seq.translator import Translator
        return Translator
    raise AttributeError(f"module 'seq2seq' has no attribute {name!r}")
