"""SlowFast video recognition for PaddlePaddle 3.x, compatible with PaddleVideo's configs and checkpoints."""

__version__ = "0.1.0"
