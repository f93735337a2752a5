"""Multigrid training's schedule (Wu et al., *A Multigrid Method for Efficiently Training Video Models*, arXiv
1912.00998), computed as PySlowFast's `utils/multigrid.py` and PaddleVideo's `utils/multigrid` compute it.

Long cycle: the epochs are cut into phases, each training one base shape (batch B x frames T x crop S) of
`long_cycle_factors` (t, s): T = round(T0 t), S = round(S0 s) and B = round(T0 S0^2 / (T S^2)) times
`DATASET.batch_size`, so a mini-batch holds about as many voxels as the default one. Every LR step of the piecewise
schedule runs all the shapes in order, each for epochs in proportion to its mean batch size (so every shape takes
the same number of iterations); a fine-tuning phase at the largest shape closes the run, with the same iteration
saving as the rest. The phases are then scaled so that they add up to `max_epoch * epoch_factor` epochs; the
schedule's cumulative end epochs are rounded. The LR schedule is rewritten from the phases: a step at each phase's
end (the fine-tuning phase dropped halfway), and each phase's rate scaled by gamma^step x B (linear scaling, the
anchors' rule for SGD), or gamma^step x sqrt(B) with `lr_scaling: sqrt` (our key: the square-root rule that keeps
an adaptive optimizer such as AdamW on the same trajectory, Malladi et al., arXiv 2205.10287).

Short cycle: inside a phase, iterations cycle through three spatial sizes, `short_cycle_factors` x S0 and S, with
the batch size scaled by round((S / (f S0))^2).

BN statistics are taken over groups of `bn_base_size` clips: a phase whose per-process batch b is larger runs
sub-batch BN with b / bn_base_size groups (modeling/sub_bn.py). Validation, PreciseBN and checkpoints follow
`EVAL_FREQ` points of each phase (its last epoch among them) and the last epoch.

Epochs here count from 0 (`epoch` is the index of the epoch about to run), as in both anchors.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..config import get
from ..errors import ConfigError

# PySlowFast's defaults, with PaddleVideo's spelling of 1/sqrt(2)
DEFAULTS = {"LONG_CYCLE": False, "SHORT_CYCLE": False, "epoch_factor": 1.5, "bn_base_size": 8,
            "long_cycle_factors": [[0.25, 0.7071], [0.5, 0.7071], [0.5, 1], [1, 1]],
            "short_cycle_factors": [0.5, 0.7071], "EVAL_FREQ": 3, "lr_scaling": "linear"}
LR_SCALINGS = {"linear": 1.0, "sqrt": 0.5}   # a phase's rate x batch_factor ** exponent
# PaddleVideo's yaml lists these as 0; its code overwrites them with values derived from the config, as here
DERIVED = ("default_batch_size", "default_temporal_size", "default_crop_size", "long_cycle_sampling_rate")
SECTION = "MULTIGRID"


@dataclass(frozen=True)
class Shape:
    """A long-cycle base shape: batch size relative to DATASET.batch_size, clip frames T, crop S."""

    batch_factor: int
    frames: int
    crop: int


@dataclass(frozen=True)
class Phase:
    """One schedule entry: the LR step it belongs to, its base shape, and the epoch where it ends (exclusive)."""

    step_index: int
    shape: Shape
    end_epoch: int


@dataclass(frozen=True)
class Settings:
    """The MULTIGRID section, checked, plus the defaults it scales (the config's training clip and batch)."""

    long_cycle: bool
    short_cycle: bool
    epoch_factor: float
    bn_base_size: int
    long_cycle_factors: Tuple[Tuple[float, float], ...]
    short_cycle_factors: Tuple[float, float]
    eval_freq: int
    batch_size: int       # DATASET.batch_size: B0, per process
    frames: int           # T0, the train DecodeSampler's num_frames
    crop: int             # S0, the train MultiCrop's target_size
    sampling_rate: int    # the train DecodeSampler's sampling_rate
    lr_scaling: str       # a key of LR_SCALINGS


def _error(cfg: Mapping[str, Any], key: str, message: str, expected: Optional[str] = None) -> ConfigError:
    node = get(cfg, SECTION)
    file = node.source_of(key) if hasattr(node, "source_of") else None
    return ConfigError(message, file=file, key=f"{SECTION}.{key}", expected=expected)


def _factor_pair(cfg: Mapping[str, Any], item: Any, index: int) -> Tuple[float, float]:
    """One long-cycle factor pair: PaddleVideo's `{value: [t, s]}` or PySlowFast's `[t, s]`."""
    pair = item.get("value") if isinstance(item, Mapping) else item
    if (not isinstance(pair, (list, tuple)) or len(pair) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1 for v in pair)):
        raise _error(cfg, "long_cycle_factors", f"entry {index} is {item!r}",
                     "a list of [t, s] pairs (or {value: [t, s]}) with 0 < t, s <= 1")
    return float(pair[0]), float(pair[1])


def _train_stage(cfg: Mapping[str, Any], name: str) -> Optional[Mapping[str, Any]]:
    """The arguments of the first `name` stage of PIPELINE.train.transform (PaddleVideo finds MultiCrop at [1])."""
    for entry in get(cfg, "PIPELINE.train.transform", None) or []:
        if isinstance(entry, Mapping) and name in entry:
            return entry[name] or {}
    return None


def read_settings(cfg: Mapping[str, Any]) -> Optional[Settings]:
    """The checked MULTIGRID section, or None when it is absent or turns neither cycle on."""
    section = get(cfg, SECTION)
    if not section:
        return None
    if not isinstance(section, Mapping):
        raise ConfigError(f"{SECTION} must be a mapping", key=SECTION, expected="LONG_CYCLE, SHORT_CYCLE, ...")
    unknown = sorted(set(section) - set(DEFAULTS) - set(DERIVED))
    if unknown:
        raise _error(cfg, unknown[0], f"{SECTION} has no key '{unknown[0]}'",
                     "one of: " + ", ".join([*DEFAULTS, *DERIVED]))
    values = {**DEFAULTS, **{k: v for k, v in section.items() if v is not None}}
    for key in ("LONG_CYCLE", "SHORT_CYCLE"):
        if not isinstance(values[key], bool):
            raise _error(cfg, key, f"{key} is {values[key]!r}", "true or false")
    if not (values["LONG_CYCLE"] or values["SHORT_CYCLE"]):
        return None
    factor = values["epoch_factor"]
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0:
        raise _error(cfg, "epoch_factor", f"epoch_factor is {factor!r}", "a number > 0")
    for key in ("bn_base_size", "EVAL_FREQ"):
        if isinstance(values[key], bool) or not isinstance(values[key], int) or values[key] < 1:
            raise _error(cfg, key, f"{key} is {values[key]!r}", "an integer >= 1")
    long_factors = values["long_cycle_factors"]
    if not isinstance(long_factors, (list, tuple)) or not long_factors:
        raise _error(cfg, "long_cycle_factors", "long_cycle_factors is empty", "a list of [t, s] pairs")
    short = values["short_cycle_factors"]
    if (not isinstance(short, (list, tuple)) or len(short) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1 for v in short)):
        raise _error(cfg, "short_cycle_factors", f"short_cycle_factors is {short!r}",
                     "two spatial factors in (0, 1], e.g. [0.5, 0.7071]")
    if values["lr_scaling"] not in LR_SCALINGS:
        raise _error(cfg, "lr_scaling", f"lr_scaling is {values['lr_scaling']!r}", " or ".join(LR_SCALINGS))
    crop = _train_stage(cfg, "MultiCrop")
    if crop is None or "target_size" not in crop:
        raise ConfigError("multigrid training scales the train crop, but PIPELINE.train has no MultiCrop",
                          key="PIPELINE.train.transform", expected="a MultiCrop: {target_size: ...} stage")
    head = get(cfg, "MODEL.head", None) or {}
    if head.get("pool", "fixed") != "adaptive" and not head.get("multigrid_short", False):
        raise ConfigError("multigrid training changes the clip shape, which the head's fixed pooling window cannot "
                          "follow", key="MODEL.head.multigrid_short",
                          expected="True (PaddleVideo's key), or MODEL.head.pool: adaptive")
    return Settings(long_cycle=values["LONG_CYCLE"], short_cycle=values["SHORT_CYCLE"], epoch_factor=float(factor),
                    bn_base_size=values["bn_base_size"],
                    long_cycle_factors=tuple(_factor_pair(cfg, item, i) for i, item in enumerate(long_factors)),
                    short_cycle_factors=(float(short[0]), float(short[1])), eval_freq=values["EVAL_FREQ"],
                    batch_size=int(get(cfg, "DATASET.batch_size")),
                    frames=int(get(cfg, "PIPELINE.train.decode_sampler.num_frames")),
                    crop=int(crop["target_size"]),
                    sampling_rate=int(get(cfg, "PIPELINE.train.decode_sampler.sampling_rate", 1) or 1),
                    lr_scaling=values["lr_scaling"])


# ---- the long cycle ----------------------------------------------------------------------------------------------
def cycle_grids(settings: Settings) -> List[List[Tuple[int, int, float]]]:
    """Per long-cycle factor, its (B, T, S) grids: the two short-cycle sizes and the base, or the base alone.

    Short-cycle crops stay unrounded (f x S0) here, as both anchors use them only for the mean batch size."""
    frames, crop = settings.frames, settings.crop
    default_size = float(frames * crop ** 2)
    grids = []
    for t_factor, s_factor in settings.long_cycle_factors:
        t, s = int(round(frames * t_factor)), int(round(crop * s_factor))
        sizes = [(t, crop * f) for f in settings.short_cycle_factors] if settings.short_cycle else []
        grids.append([(int(round(default_size / (tt * ss * ss))), tt, ss) for tt, ss in [*sizes, (t, s)]])
    return grids


def long_cycle_schedule(settings: Settings, steps: Sequence[float], max_epoch: float) -> List[Phase]:
    """The phases of the whole run from the config's LR `steps` and `max_epoch` (the anchors' schedule)."""
    grids = cycle_grids(settings)
    mean_batch = [sum(g[0] for g in grid) / len(grid) for grid in grids]
    total_batch = sum(mean_batch)
    raw: List[Tuple[int, Tuple[int, int, float], float]] = []
    iterations = 0.0
    for step_index in range(len(steps) - 1):
        span = steps[step_index + 1] - steps[step_index]
        for grid, mean in zip(grids, mean_batch):
            epochs = span * mean / total_batch
            iterations += epochs / mean
            raw.append((step_index, grid[-1], epochs))
    saving = steps[-1] / iterations                       # plain iterations per multigrid iteration
    fine_tune = (max_epoch - steps[-1]) / saving * mean_batch[-1]
    raw.append((len(steps) - 1, grids[-1][-1], fine_tune))
    scale = max_epoch * settings.epoch_factor / sum(r[2] for r in raw)
    phases, total = [], 0.0
    for step_index, (b, t, s), epochs in raw:
        total += epochs * scale
        phases.append(Phase(step_index, Shape(b, t, int(s)), int(round(total))))
    return phases


def shape_at(phases: Sequence[Phase], epoch: int) -> Shape:
    """The base shape of epoch `epoch` (0-based); past the schedule, the last one."""
    for phase in phases:
        if epoch < phase.end_epoch:
            return phase.shape
    return phases[-1].shape


def phase_starts(phases: Sequence[Phase], epoch: int) -> bool:
    """Whether `epoch` is the first of a new shape (the anchors rebuild the loader and restart the LR there)."""
    return epoch == 0 or shape_at(phases, epoch) != shape_at(phases, epoch - 1)


def multigrid_lr(phases: Sequence[Phase], gamma: float, lr_scaling: str) -> Dict[str, Any]:
    """The piecewise schedule's `steps`, `lrs` and `max_epoch` rewritten from the phases, each phase's rate scaled
    by its batch factor (`lr_scaling` linear) or its square root (sqrt)."""
    steps = [0] + [p.end_epoch for p in phases]
    steps[-1] = (steps[-2] + steps[-1]) // 2              # the fine-tuning phase drops the rate halfway
    exponent = LR_SCALINGS[lr_scaling]
    lrs = [gamma ** p.step_index * p.shape.batch_factor ** exponent for p in phases]
    lrs = lrs[:-1] + [lrs[-2], lrs[-1]]
    return {"steps": steps, "lrs": lrs, "max_epoch": phases[-1].end_epoch}


def is_eval_epoch(phases: Optional[Sequence[Phase]], epoch: int, total_epochs: int, eval_freq: int) -> bool:
    """Whether validation, PreciseBN and a checkpoint follow epoch `epoch`: the last epoch, and in each phase
    about `eval_freq` evenly spaced epochs ending with the phase's last (the anchors' is_eval_epoch)."""
    if epoch + 1 == total_epochs:
        return True
    start = 0
    for phase in phases or ():
        if epoch < phase.end_epoch:
            period = max((phase.end_epoch - start) // eval_freq + 1, 1)
            return (phase.end_epoch - 1 - epoch) % period == 0
        start = phase.end_epoch
    return False


# ---- within a phase ----------------------------------------------------------------------------------------------
def short_cycle_factors_of(settings: Settings, crop: int) -> Tuple[int, int]:
    """Batch multipliers of the two short-cycle iterations of a phase cropping `crop`: round((S / (f S0))^2)."""
    return tuple(int(round((float(crop) / (f * settings.crop)) ** 2)) for f in settings.short_cycle_factors)


def bn_groups(batch: int, bn_base_size: int) -> int:
    """Sub-batches whose statistics BN takes separately for a per-process batch (1: plain BN), as the anchors'
    `int(batch / bn_base_size)`; a batch below the base size keeps plain BN over what it has."""
    return max(1, int(float(batch) / bn_base_size))


@dataclass(frozen=True)
class EpochShape:
    """Everything one epoch's data and BN need: the base shape, the per-iteration batch sizes and crops (a cycle
    of three, or the base alone), the BN groups and the sampling-rate range."""

    shape: Shape
    batch: int                       # per process, base iterations
    batch_sizes: Tuple[int, ...]     # per process, one per short-cycle position
    crops: Tuple[int, ...]
    bn_splits: int
    sampling_rates: Tuple[int, int]  # (low, high): PySlowFast's random rate over the long cycle's span


class Plan:
    """The whole multigrid run of a config: epochs, LR schedule and each epoch's shape."""

    def __init__(self, settings: Settings, phases: Optional[List[Phase]], epochs: int):
        self.settings, self.phases, self.epochs = settings, phases, epochs

    def epoch_shape(self, epoch: int) -> EpochShape:
        s = self.settings
        shape = shape_at(self.phases, epoch) if self.phases else Shape(1, s.frames, s.crop)
        batch = shape.batch_factor * s.batch_size
        if s.short_cycle:
            k0, k1 = short_cycle_factors_of(s, shape.crop)
            sizes = (batch * k0, batch * k1, batch)
            crops = tuple(int(round(f * s.crop)) for f in s.short_cycle_factors) + (shape.crop,)
        else:
            sizes, crops = (batch,), (shape.crop,)
        splits = bn_groups(batch, s.bn_base_size) if self.phases else 1
        high = s.sampling_rate * (s.frames // shape.frames)
        return EpochShape(shape, batch, sizes, crops, splits, (s.sampling_rate, high))

    def starts_shape(self, epoch: int) -> bool:
        return bool(self.phases) and phase_starts(self.phases, epoch)

    def is_eval_epoch(self, epoch: int) -> bool:
        return is_eval_epoch(self.phases, epoch, self.epochs, self.settings.eval_freq)

    def describe(self) -> List[str]:
        """The schedule as log lines: one per phase with its epochs, shape, batch sizes and BN groups."""
        s = self.settings
        lines = [f"multigrid: {self.epochs} epochs (epochs x epoch_factor {s.epoch_factor}), long cycle "
                 f"{'on' if s.long_cycle else 'off'}, short cycle {'on' if s.short_cycle else 'off'}"
                 + (f", {s.lr_scaling} LR scaling" if s.long_cycle else "")]
        start = 0
        for phase in self.phases or [Phase(0, Shape(1, s.frames, s.crop), self.epochs)]:
            if phase.end_epoch > start:
                e = self.epoch_shape(start)
                span = f"epochs {start + 1}-{phase.end_epoch}" if phase.end_epoch > start + 1 else f"epoch {start + 1}"
                lines.append(f"  {span}: LR step {phase.step_index}, frames "
                             f"{e.shape.frames}, crops {list(e.crops)}, batch sizes {list(e.batch_sizes)}, "
                             f"BN groups {e.bn_splits}, sampling rate {e.sampling_rates[0]}-{e.sampling_rates[1]}")
            start = max(start, phase.end_epoch)
        return lines

    def state(self) -> Dict[str, Any]:
        """What a checkpoint records to refuse a resume under another schedule."""
        return {"epochs": self.epochs,
                "phases": [[p.step_index, p.shape.batch_factor, p.shape.frames, p.shape.crop, p.end_epoch]
                           for p in self.phases or []]}


def lr_section(cfg: Mapping[str, Any], settings: Settings, phases: Optional[List[Phase]]) -> Dict[str, Any]:
    """OPTIMIZER.learning_rate as multigrid runs it: the long cycle's piecewise steps and rates, or (short cycle
    alone) the steps and max_epoch stretched by epoch_factor (PySlowFast; PaddleVideo multiplies max_epoch by
    itself there)."""
    lr = dict(get(cfg, "OPTIMIZER.learning_rate", None) or {})
    if phases is not None:
        lr.update(multigrid_lr(phases, float(lr["gamma"]), settings.lr_scaling))
    else:
        if "steps" in lr:
            lr["steps"] = [int(s * settings.epoch_factor) for s in lr["steps"]]
        if "max_epoch" in lr:
            lr["max_epoch"] = int(lr["max_epoch"] * settings.epoch_factor)
    return lr


def _long_cycle_inputs(cfg: Mapping[str, Any]) -> Tuple[List[float], float, float]:
    """(steps, max_epoch, gamma) of the piecewise schedule the long cycle rewrites."""
    lr = get(cfg, "OPTIMIZER.learning_rate", None) or {}
    where = "OPTIMIZER.learning_rate"
    file = lr.source_of("name") if hasattr(lr, "source_of") else None
    for key in ("steps", "lrs", "gamma", "max_epoch"):
        if lr.get(key) is None:
            raise ConfigError(f"MULTIGRID.LONG_CYCLE rewrites a piecewise LR schedule, and {where} has no '{key}' "
                              f"(it is {lr.get('name')!r})", file=file, key=f"{where}.{key}",
                              expected="name: CustomWarmupPiecewiseDecay with steps, lrs, gamma and max_epoch")
    steps = list(lr["steps"])
    if len(steps) < 2 or steps[0] != 0:
        raise ConfigError(f"the long cycle needs LR steps from 0 with at least one more, got {steps}", file=file,
                          key=f"{where}.steps", expected="e.g. [0, 94, 154, 196]")
    return steps, float(lr["max_epoch"]), float(lr["gamma"])


def build_plan(cfg: Mapping[str, Any]) -> Optional[Tuple[Plan, Dict[str, Any]]]:
    """(plan, rewritten OPTIMIZER.learning_rate) of a config whose MULTIGRID turns a cycle on, else None."""
    settings = read_settings(cfg)
    if settings is None:
        return None
    phases = None
    if settings.long_cycle:
        steps, max_epoch, _ = _long_cycle_inputs(cfg)
        phases = long_cycle_schedule(settings, steps, max_epoch)
        alpha = _alpha(cfg)
        for phase in phases:
            if phase.shape.frames < alpha or phase.shape.frames % alpha:
                raise _error(cfg, "long_cycle_factors", f"a long-cycle shape of {phase.shape.frames} frames cannot "
                             f"feed a Slow pathway at alpha {alpha}", f"factors making T0 = {settings.frames} "
                             f"frames a multiple of {alpha}")
            if settings.short_cycle and 0 in short_cycle_factors_of(settings, phase.shape.crop):
                raise _error(cfg, "short_cycle_factors", f"the long-cycle crop {phase.shape.crop} is too small for "
                             f"short-cycle crops of {settings.short_cycle_factors} x {settings.crop}: their batch "
                             "factor rounds to 0", "long-cycle spatial factors >= the short-cycle ones / sqrt(2)")
        for batch in sorted({p.shape.batch_factor * settings.batch_size for p in phases}):
            splits = bn_groups(batch, settings.bn_base_size)
            if batch % splits:
                raise _error(cfg, "bn_base_size", f"a long-cycle batch of {batch} clips does not split into "
                             f"{splits} equal BN groups", "a base size that divides every long-cycle batch")
    epochs = int(int(get(cfg, "epochs")) * settings.epoch_factor)
    return Plan(settings, phases, epochs), lr_section(cfg, settings, phases)


def _alpha(cfg: Mapping[str, Any]) -> int:
    """The Fast/Slow frame ratio the train clips are packed with."""
    pack = _train_stage(cfg, "PackOutput")
    return int(pack.get("alpha", 1)) if pack is not None else int(get(cfg, "MODEL.backbone.alpha", 1) or 1)


def notes(cfg: Mapping[str, Any], plan: Plan) -> List[str]:
    """Warnings for what the MULTIGRID section states but does not drive, each naming what happens instead."""
    section, s = get(cfg, SECTION) or {}, plan.settings
    derived = {"default_batch_size": s.batch_size, "default_temporal_size": s.frames, "default_crop_size": s.crop,
               "long_cycle_sampling_rate": None}
    out = []
    for key in DERIVED:
        value = section.get(key)
        if value not in (None, 0) and value != derived[key]:
            out.append(f"MULTIGRID.{key}: {value} is ignored: it is derived from the config "
                       f"({'per long-cycle shape' if derived[key] is None else derived[key]}), as PaddleVideo does")
    if not s.long_cycle:
        unused = [k for k in ("long_cycle_factors", "bn_base_size") if section.get(k) is not None]
        if unused:
            out.append(f"MULTIGRID.{' and '.join(unused)} ignored: LONG_CYCLE is off (the short cycle keeps "
                       "the config's BN over the whole batch, as both anchors do)")
        if section.get("lr_scaling") is not None:
            out.append(f"MULTIGRID.lr_scaling {s.lr_scaling} ignored: LONG_CYCLE is off (the short cycle alone "
                       "keeps the config's learning rates, as both anchors do)")
    if s.long_cycle and plan.phases and plan.phases[-1].end_epoch != plan.epochs:
        out.append(f"MULTIGRID: the run has int(epochs x epoch_factor) = {plan.epochs} epochs (PaddleVideo's count) "
                   f"but the long-cycle schedule ends at epoch {plan.phases[-1].end_epoch} (OPTIMIZER.learning_rate."
                   f"max_epoch {get(cfg, 'OPTIMIZER.learning_rate.max_epoch')} x epoch_factor {s.epoch_factor}); "
                   "set epochs equal to that max_epoch")
    small = sorted(p.shape.batch_factor * s.batch_size for p in plan.phases or []
                   if p.shape.batch_factor * s.batch_size < s.bn_base_size)
    if small:
        out.append(f"MULTIGRID.bn_base_size {s.bn_base_size} is larger than the long-cycle batch of {small[0]} "
                   "clips: BN takes its statistics over the clips each process has (PySlowFast would sync BN "
                   "across devices)")
    return out
