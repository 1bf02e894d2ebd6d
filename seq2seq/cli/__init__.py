"""The commands that are no task's: each module parses, calls the library and prints
(train.py, prepare.py, score.py, average.py, plot.py, sweep.py); how every command fails and
the options they share (common.py). A task's own commands sit in its package
(seq2seq/tasks/<task>/cli.py).
"""
