"""Optimizers and learning-rate schedules (PaddleVideo's OPTIMIZER section); importing registers the schedules."""
from .lr import (CustomWarmupCosineDecay, CustomWarmupPiecewiseDecay, EpochScheduler, LinearWarmupCosineDecay,
                 build_lr)
from .optimizer import build_optimizer, split_decay_parameters

__all__ = ["CustomWarmupCosineDecay", "CustomWarmupPiecewiseDecay", "EpochScheduler", "LinearWarmupCosineDecay",
           "build_lr", "build_optimizer", "split_decay_parameters"]
