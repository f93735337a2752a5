"""Entry module for PaddleVideo users: `python -m paddlevideo_slowfast.pv train|test|export -c CONFIG ...` runs
PaddleVideo's own train/test/export with our SlowFast components registered (docs/paddlevideo.md)."""
