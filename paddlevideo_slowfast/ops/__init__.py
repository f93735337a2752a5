"""C++ operators on the libraries Paddle's wheel ships, built on first use: conv3d on oneDNN for CPU eager mode.

Model layers take it through modeling.conv3d_fast.use_onednn_conv3d (the model builder applies it).
"""
from .conv3d import ENV_SWITCH, available, enabled, in_use, onednn_conv3d, set_enabled, status

__all__ = ["ENV_SWITCH", "available", "enabled", "in_use", "onednn_conv3d", "set_enabled", "status"]
