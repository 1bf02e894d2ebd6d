"""The decoding layer: greedy and batched beam search (search.py), ensembles (ensemble.py),
and a trained run read for inference (trained.py), which every predictor behind
`seq2seq.load` uses.
"""
