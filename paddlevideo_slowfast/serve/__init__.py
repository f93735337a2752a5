"""`paddlevideo serve`: an HTTP inference service (app.py: routes; service.py: admission and decoding;
detection.py: an AVA detector's service; model_process.py: the model in a child process; batcher.py: dynamic
batching; metrics.py: Prometheus text; streams.py: live sources, also used by `predict`).
Importing the package loads nothing heavy: FastAPI is imported by app.py only."""
