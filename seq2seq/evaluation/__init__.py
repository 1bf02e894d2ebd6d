"""Scores that travel with their signature: BLEU and chrF through sacrebleu, accuracy and
F1 of labels (metrics.py).
"""
