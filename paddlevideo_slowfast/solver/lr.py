"""Learning-rate schedules over (fractional) epochs, registered under PaddleVideo's names and config keys.

Each schedule is a pure function of the epoch `e`; a step advances `e` by `1 / num_iters` when stepped per
iteration (`iter_step: True`), else by 1. The epoch is accumulated in floating point exactly as PaddleVideo
does, so a run (and a resumed PaddleVideo checkpoint) sees the same learning rate at every iteration, even
at a piecewise boundary where the accumulated epoch lands a hair below the integer.
"""
from __future__ import annotations

import bisect
import math
from typing import Any, Dict, Optional, Sequence

from paddle.optimizer.lr import LRScheduler

from ..errors import ConfigError
from ..registry import LRSCHEDULERS, config_error


class ScheduleArgumentError(ConfigError):
    """A schedule argument is out of range; `argument` names it so the builder can add the config file."""

    def __init__(self, argument: str, message: str, expected: str):
        self.argument, self.message = argument, message
        super().__init__(message, key=argument, expected=expected)


def _check(ok: bool, argument: str, message: str, expected: str) -> None:
    if not ok:
        raise ScheduleArgumentError(argument, message, expected)


def cosine_lr(epoch: float, base_lr: float, max_epoch: float) -> float:
    """Half-cosine from `base_lr` at epoch 0 to 0 at `max_epoch` (PySlowFast's `lr_func_cosine`)."""
    return base_lr * (math.cos(math.pi * epoch / max_epoch) + 1.0) * 0.5


def relative_steps_lr(epoch: float, base_lr: float, lrs: Sequence[float], steps: Sequence[float],
                      max_epoch: float) -> float:
    """`base_lr * lrs[i]` on `[steps[i], steps[i+1])`; past `max_epoch` the last segment's value holds."""
    bounds = list(steps) + [max_epoch]
    index = min(bisect.bisect_right(bounds, epoch), len(bounds) - 1)
    return lrs[index - 1] * base_lr


def linear_warmup(epoch: float, start_lr: float, end_lr: float, warmup_epochs: float) -> float:
    """Straight line from `start_lr` at epoch 0 to `end_lr` at `warmup_epochs`."""
    return epoch * ((end_lr - start_lr) / warmup_epochs) + start_lr


class EpochScheduler(LRScheduler):
    """Base of our schedules: `lr_at(epoch)` defines the schedule; stepping, state and resume live here."""

    def __init__(self, base_lr: float, num_iters: int, iter_step: bool):
        self.iter_step = bool(iter_step)
        steps = int(num_iters) if self.iter_step else 1
        _check(steps >= 1, "num_iters", f"num_iters must be >= 1, got {num_iters}",
               "the number of optimizer steps per epoch")
        self.num_iters = steps
        # the base class stores base_lr, then calls step() once, which moves last_epoch from -1 to 0
        super().__init__(learning_rate=float(base_lr), last_epoch=-1, verbose=False)

    def lr_at(self, epoch: float) -> float:
        """The learning rate at a fractional epoch (a pure function of it)."""
        raise NotImplementedError

    def get_lr(self) -> float:
        return self.lr_at(self.last_epoch)

    def step(self, epoch: Optional[float] = None) -> None:
        """Advance by one optimizer step (`1 / num_iters` epochs), or jump to `epoch`."""
        if epoch is not None:
            self.last_epoch = epoch
        elif self.last_epoch == -1:
            self.last_epoch = 0
        else:
            self.last_epoch += 1 / self.num_iters
        self.last_lr = self.get_lr()

    def set_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Restore the position; `last_lr` is recomputed so a resumed run never trusts a stale value."""
        super().set_state_dict({k: state_dict[k] for k in ("last_epoch", "last_lr") if k in state_dict})
        self.last_lr = self.get_lr()

    set_dict = set_state_dict


@LRSCHEDULERS.register()
class CustomWarmupCosineDecay(EpochScheduler):
    """SlowFast's schedule: cosine over absolute epochs from `cosine_base_lr` to 0 at `max_epoch`; during the
    first `warmup_epochs` a line from `warmup_start_lr` up to the cosine's value at the end of warmup."""

    def __init__(self, warmup_start_lr: float, warmup_epochs: float, cosine_base_lr: float, max_epoch: float,
                 num_iters: int = 1, iter_step: bool = True):
        _check(max_epoch > 0, "max_epoch", f"max_epoch must be > 0, got {max_epoch}", "a positive epoch count")
        _check(0 <= warmup_epochs <= max_epoch, "warmup_epochs",
               f"warmup_epochs must lie in [0, max_epoch={max_epoch}], got {warmup_epochs}", "0 <= x <= max_epoch")
        self.warmup_start_lr, self.warmup_epochs = float(warmup_start_lr), warmup_epochs
        self.cosine_base_lr, self.max_epoch = float(cosine_base_lr), max_epoch
        super().__init__(cosine_base_lr, num_iters, iter_step)

    def lr_at(self, epoch: float) -> float:
        if epoch < self.warmup_epochs:
            end = cosine_lr(self.warmup_epochs, self.cosine_base_lr, self.max_epoch)
            return linear_warmup(epoch, self.warmup_start_lr, end, self.warmup_epochs)
        return cosine_lr(epoch, self.cosine_base_lr, self.max_epoch)


@LRSCHEDULERS.register()
class CustomWarmupPiecewiseDecay(EpochScheduler):
    """SlowFast's multigrid schedule: `step_base_lr * lrs[i]` from epoch `steps[i]`; during the first
    `warmup_epochs` a line from `warmup_start_lr` up to the step value at the end of warmup.

    `gamma` is accepted because PaddleVideo's configs carry it, but (as in PaddleVideo) the factors come from
    `lrs` alone.
    """

    def __init__(self, warmup_start_lr: float, warmup_epochs: float, step_base_lr: float, lrs: Sequence[float],
                 steps: Sequence[float], max_epoch: float, gamma: Optional[float] = None, num_iters: int = 1,
                 iter_step: bool = True):
        steps, lrs = list(steps), [float(v) for v in lrs]
        _check(len(steps) > 0 and steps[0] == 0, "steps", f"steps must start at epoch 0, got {steps}",
               "a list like [0, 94, 154, 196]")
        # equal neighbours are an empty segment (a multigrid phase rounded to 0 epochs), as PaddleVideo allows
        _check(all(a <= b for a, b in zip(steps, steps[1:])) and steps[-1] <= max_epoch, "steps",
               f"steps must not decrease nor pass max_epoch={max_epoch}, got {steps}", "non-decreasing epochs")
        _check(len(lrs) >= len(steps), "lrs", f"lrs has {len(lrs)} factors for {len(steps)} steps",
               "one factor per step")
        _check(0 <= warmup_epochs <= max_epoch, "warmup_epochs",
               f"warmup_epochs must lie in [0, max_epoch={max_epoch}], got {warmup_epochs}", "0 <= x <= max_epoch")
        self.warmup_start_lr, self.warmup_epochs = float(warmup_start_lr), warmup_epochs
        self.step_base_lr, self.lrs, self.steps = float(step_base_lr), lrs, steps
        self.max_epoch, self.gamma = max_epoch, gamma
        super().__init__(step_base_lr, num_iters, iter_step)

    def lr_at(self, epoch: float) -> float:
        if epoch < self.warmup_epochs:
            end = relative_steps_lr(self.warmup_epochs, self.step_base_lr, self.lrs, self.steps, self.max_epoch)
            return linear_warmup(epoch, self.warmup_start_lr, end, self.warmup_epochs)
        return relative_steps_lr(epoch, self.step_base_lr, self.lrs, self.steps, self.max_epoch)


@LRSCHEDULERS.register()
class LinearWarmupCosineDecay(EpochScheduler):
    """Linear warmup from `warmup_start_lr` to `base_lr` over `warmup_epochs`, then a half-cosine from
    `base_lr` down to `min_lr` over the remaining epochs up to `max_epoch` (then `min_lr`)."""

    def __init__(self, base_lr: float, max_epoch: float, warmup_epochs: float = 0, warmup_start_lr: float = 0.0,
                 min_lr: float = 0.0, num_iters: int = 1, iter_step: bool = True):
        _check(max_epoch > 0, "max_epoch", f"max_epoch must be > 0, got {max_epoch}", "a positive epoch count")
        _check(0 <= warmup_epochs < max_epoch, "warmup_epochs",
               f"warmup_epochs must lie in [0, max_epoch={max_epoch}), got {warmup_epochs}", "0 <= x < max_epoch")
        self.max_epoch = max_epoch
        self.warmup_epochs, self.warmup_start_lr, self.min_lr = warmup_epochs, float(warmup_start_lr), float(min_lr)
        super().__init__(base_lr, num_iters, iter_step)

    def lr_at(self, epoch: float) -> float:
        if epoch < self.warmup_epochs:
            return linear_warmup(epoch, self.warmup_start_lr, self.base_lr, self.warmup_epochs)
        progress = min(1.0, (epoch - self.warmup_epochs) / (self.max_epoch - self.warmup_epochs))
        return self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_lr(cfg: Any, num_iters: int, *, where: str = "OPTIMIZER.learning_rate") -> LRScheduler:
    """The schedule `cfg.name` with the other keys as arguments; `num_iters` = optimizer steps per epoch."""
    try:
        return LRSCHEDULERS.build(cfg, where=where, num_iters=num_iters)
    except ScheduleArgumentError as exc:
        raise config_error(cfg, exc.message, where, exc.argument, exc.expected) from None
