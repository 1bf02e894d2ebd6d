"""The recurrent parts: the state search carries and one stacked RNN (recurrent.py), encoders
(encoders.py), the decoder (decoder.py), the encoder-decoder composed from them
(encoder_decoder.py), and oneDNN's matrix products for search on a CPU (onednn.py).
"""
