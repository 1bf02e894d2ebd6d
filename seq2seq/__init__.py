"""seq2seq: stacked-LSTM encoder-decoders for machine translation (Sutskever et al. 2014)."""

__version__ = "0.1.0"
