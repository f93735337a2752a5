"""Multigrid training inside the Trainer: each epoch's loaders, BN groups and LR position, and the checkpointed
state that lets a resume continue the cycle exactly (the schedule itself: engine/multigrid.py).

Per epoch, as the anchors do at a long-cycle change (they rebuild model, optimizer and loader from the last
checkpoint): the train loader of the epoch's shape (a ShortCycleBatchSampler over the shape's pipeline), a
PreciseBN loader of base-shape batches, the sub-batch BN groups, the LR's iterations per epoch, and at the first
epoch of a shape the LR's position reset to that whole epoch. The shape is a function of the epoch, so a resumed
run is in the right place by construction; the `.pdopt` adds the BN group averages and the schedule it was
written under (a resume under another schedule is refused).
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..config import AttrDict
from ..errors import CheckpointError, ConfigError
from .distributed import rank, world_size
from .multigrid import EpochShape, Plan, build_plan


class MultigridRun:
    """What the Trainer asks of a multigrid config; `from_config` gives None when MULTIGRID is off."""

    def __init__(self, cfg: AttrDict, plan: Plan, lr_cfg: Dict[str, Any], *, seed: int, accumulation: int = 1):
        self.cfg, self.plan, self.seed, self.accumulation = cfg, plan, int(seed), int(accumulation)
        self.optimizer_cfg = copy.copy(cfg["OPTIMIZER"])
        self.optimizer_cfg["learning_rate"] = copy.copy(cfg["OPTIMIZER"]["learning_rate"])  # keeps key provenance
        self.optimizer_cfg["learning_rate"].update(lr_cfg)
        self._built: Optional[Tuple[EpochShape, Any, Any]] = None

    @classmethod
    def from_config(cls, cfg: AttrDict, *, seed: int, accumulation: int = 1) -> Optional["MultigridRun"]:
        built = build_plan(cfg)
        return None if built is None else cls(cfg, *built, seed=seed, accumulation=accumulation)

    @property
    def epochs(self) -> int:
        return self.plan.epochs

    @property
    def long_cycle(self) -> bool:
        return self.plan.settings.long_cycle

    def describe(self) -> List[str]:
        return self.plan.describe()

    def is_eval_epoch(self, epoch: int) -> bool:
        """Validation, PreciseBN and a checkpoint after epoch `epoch` (0-based), as the anchors schedule them."""
        return self.plan.is_eval_epoch(epoch)

    # ---- model ----------------------------------------------------------------------------------------------
    def prepare(self, model) -> None:
        """Give the model's BN layers sub-batch groups (long cycle only: the short cycle keeps plain BN)."""
        if self.long_cycle:
            from ..modeling.sub_bn import enable_sub_batchnorm

            enable_sub_batchnorm(model)

    def aggregate(self, model) -> int:
        """Merge the BN group averages into the layers' own, before evaluation and checkpoints."""
        from ..modeling.sub_bn import aggregate_sub_bn_stats

        return aggregate_sub_bn_stats(model)

    # ---- data -----------------------------------------------------------------------------------------------
    def shape_config(self, shape: EpochShape) -> AttrDict:
        """The config with PIPELINE.train set to `shape`'s clip (the anchors edit their cfg the same way)."""
        from ..data.short_cycle import shape_pipeline

        s = self.plan.settings
        cfg = copy.copy(self.cfg)
        cfg["PIPELINE"] = copy.copy(self.cfg.PIPELINE)
        cfg.PIPELINE["train"] = shape_pipeline(self.cfg.PIPELINE.train, frames=shape.shape.frames,
                                               crop=shape.shape.crop, default_crop=s.crop,
                                               short_cycle_factors=s.short_cycle_factors,
                                               sampling_rates=shape.sampling_rates)
        return cfg

    def loaders(self, epoch: int) -> Tuple[Any, Any]:
        """(train loader, PreciseBN loader) of epoch `epoch`'s shape, built again only when the shape changes."""
        from ..data.loader import EpochBatchSampler, build_dataset, make_loader
        from ..data.short_cycle import ShortCycleBatchSampler

        shape = self.plan.epoch_shape(epoch)
        if self._built is None or self._built[0] != shape:
            cfg = self.shape_config(shape)
            dataset = build_dataset(cfg, "train", seed=self.seed)
            seed = getattr(dataset, "seed", self.seed)
            train = ShortCycleBatchSampler(len(dataset), shape.batch_sizes, seed=seed, world_size=world_size(),
                                           rank=rank(), accumulation=self.accumulation)
            if len(train) == 0:
                raise ConfigError(f"{len(dataset)} training clips make no step of epoch {epoch + 1}'s multigrid shape "
                                  f"(batch sizes {list(shape.batch_sizes)} x {world_size()} processes x "
                                  f"{self.accumulation} micro-batches)", key="DATASET.batch_size",
                                  expected="a smaller batch size, or more training clips")
            precise = EpochBatchSampler(dataset, shape.batch, shuffle=True, drop_last=True, seed=seed,
                                        world_size=world_size(), rank=rank())
            self._built = (shape, make_loader(cfg, dataset, train), make_loader(cfg, dataset, precise))
        _, train_loader, precise_loader = self._built
        precise_loader.set_epoch(epoch)
        return train_loader, precise_loader

    def enter_epoch(self, epoch: int, model, lr, steps_per_epoch: int) -> None:
        """BN groups and LR position for epoch `epoch` (its loaders come from `loaders`)."""
        shape, starts = self.plan.epoch_shape(epoch), self.plan.starts_shape(epoch)
        if self.long_cycle:
            from ..modeling.sub_bn import set_bn_splits

            set_bn_splits(model, shape.bn_splits, restart=starts)
        if lr is None:
            return
        if getattr(lr, "iter_step", False):
            lr.num_iters = int(steps_per_epoch)
        if starts:
            lr.step(float(epoch))  # the anchors rebuild the schedule here at last_epoch = epoch

    # ---- checkpoints ----------------------------------------------------------------------------------------
    def state(self, model) -> Dict[str, Any]:
        """The schedule and the BN group averages, for the `.pdopt` file."""
        from ..modeling.sub_bn import split_state

        return {**self.plan.state(), "sub_bn": split_state(model)}

    def load_state(self, model, state: Optional[Mapping[str, Any]], source: str) -> None:
        """Restore `state`; refuse a checkpoint written under another schedule. A checkpoint without one (a plain
        run's, or PaddleVideo's) starts the groups from the merged BN statistics, as the anchors' loader does."""
        if not state:
            return
        mine = self.plan.state()["phases"]
        theirs = [list(map(int, p)) for p in state.get("phases", [])]
        if theirs != mine:
            raise CheckpointError(source, reason=f"written under another multigrid schedule (phases [LR step, "
                                  f"batch factor, frames, crop, end epoch] {theirs}) than this config's ({mine})")
        from ..modeling.sub_bn import load_split_state

        load_split_state(model, state.get("sub_bn") or {})
