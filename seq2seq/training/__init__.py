"""The training layer: the one loop (loop.py), the paper's optimisation (optim.py),
data-parallel ranks (distributed.py), the device and precision (hardware.py), what a run
reports (report.py), run directories (rundir.py), checkpoints and other run files
(checkpoint.py), the checks before resuming (resume.py), and stopping on a signal
(signals.py).
"""
