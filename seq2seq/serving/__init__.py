"""seq2seq-serve's parts: the app (app.py), the batcher (batcher.py) and what an endpoint
is (endpoint.py); each task's endpoint lives with the task (tasks/*/serving.py)."""
