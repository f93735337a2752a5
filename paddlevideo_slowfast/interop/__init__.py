"""Checkpoints from elsewhere: PySlowFast (.pyth, Caffe2 .pkl), pytorchvideo, safetensors, and weights by URL."""
