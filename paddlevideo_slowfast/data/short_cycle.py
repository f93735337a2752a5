"""Multigrid's data side: the batch sampler that gives each iteration its shape, and the train pipeline of a
long-cycle shape (engine/multigrid.py computes the shapes).

Short cycle (PySlowFast's ShortCycleBatchSampler, PaddleVideo's DistributedShortSampler): iteration i of an epoch
is at cycle position p = i mod 3 and takes `batch_sizes[p]` clips per process; the dataset gets the key
`(index, epoch, p)` and the stages read `results['short_cycle_idx'] = p` (positions 0 and 1 crop the short-cycle
sizes, 2 the base). Without the short cycle every iteration takes the base batch and keys are `(index, epoch)`.

Sharing across processes and accumulated micro-batches: one global order per epoch, shuffled from (seed, epoch);
each optimizer step takes the next `world_size x accumulation x b` indices of it (b: the step's per-process
batch) as that many slices of b, and micro-batch j of rank r is slice j*world_size + r. So every process takes its
own slice of every variable-size batch, all processes run the same number of steps, and one process accumulating
world_size micro-batches trains on exactly the clips of a world_size-process step. An epoch ends when the next
step would run past the order (the anchors drop the last incomplete batch too).
"""
from __future__ import annotations

import copy
from typing import Any, Iterator, List, Mapping, Sequence, Tuple

import numpy as np

SHUFFLE_SALT = 0x5C  # keeps this order's stream apart from the items' own (seed, epoch, index) generators


class ShortCycleBatchSampler:
    """Batches of dataset keys whose size follows the short cycle step by step (see the module docstring)."""

    def __init__(self, num_items: int, batch_sizes: Sequence[int], *, seed: int = 0, world_size: int = 1,
                 rank: int = 0, accumulation: int = 1, shuffle: bool = True):
        self.num_items, self.batch_sizes = int(num_items), tuple(int(b) for b in batch_sizes)
        self.seed, self.world_size, self.rank = int(seed), int(world_size), int(rank)
        self.accumulation, self.shuffle, self.epoch = int(accumulation), shuffle, 0

    @property
    def batch_size(self) -> int:
        """The base (last position's) batch size."""
        return self.batch_sizes[-1]

    @property
    def short_cycle(self) -> bool:
        return len(self.batch_sizes) > 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def order(self) -> np.ndarray:
        """The epoch's global order of dataset indices."""
        if not self.shuffle:
            return np.arange(self.num_items)
        return np.random.default_rng([self.seed & 0xFFFFFFFF, self.epoch, SHUFFLE_SALT]).permutation(self.num_items)

    def steps(self) -> List[Tuple[int, int, int]]:
        """(cycle position, start in the global order, per-process batch) of each optimizer step of the epoch."""
        out, start, step = [], 0, 0
        width = self.world_size * self.accumulation
        while True:
            position = step % len(self.batch_sizes)
            size = self.batch_sizes[position]
            if start + size * width > self.num_items:
                return out
            out.append((position, start, size))
            start, step = start + size * width, step + 1

    def __iter__(self) -> Iterator[List[Tuple[int, ...]]]:
        order = self.order()
        for position, start, size in self.steps():
            for j in range(self.accumulation):
                first = start + (j * self.world_size + self.rank) * size
                keys = order[first:first + size]
                if self.short_cycle:
                    yield [(int(i), self.epoch, position) for i in keys]
                else:
                    yield [(int(i), self.epoch) for i in keys]

    def __len__(self) -> int:
        return len(self.steps()) * self.accumulation


def _stage(transform: List[Any], name: str) -> Any:
    for entry in transform:
        if isinstance(entry, Mapping) and name in entry:
            if entry[name] is None:
                entry[name] = {}
            return entry[name]
    return None


def shape_pipeline(pipeline: Mapping[str, Any], *, frames: int, crop: int, default_crop: int,
                   short_cycle_factors: Sequence[float], sampling_rates: Tuple[int, int]) -> Any:
    """A copy of PIPELINE.train for one long-cycle shape: `frames` frames cropped to `crop`, sampled at a rate
    drawn from `sampling_rates` (PySlowFast's LONG_CYCLE_SAMPLING_RATE), and JitterScale's lower bound scaled by
    crop / default_crop as PySlowFast does. The short-cycle sizes are the config's own crop and scale times the
    factors (MultiCrop.default_crop_size, JitterScale.default_min_size, which PaddleVideo fixes at 224 and 256)."""
    out = copy.deepcopy(pipeline)
    sampler = out["decode_sampler"]
    sampler["num_frames"] = int(frames)
    sampler["long_cycle_sampling_rate"] = int(sampling_rates[1])
    factors = [float(f) for f in short_cycle_factors]
    multicrop = _stage(out["transform"], "MultiCrop")
    multicrop.update(target_size=int(crop), default_crop_size=int(default_crop), short_cycle_factors=factors)
    jitter = _stage(out["transform"], "JitterScale")
    if jitter is not None:
        base = int(jitter["min_size"])
        jitter.update(min_size=int(round(base * crop / default_crop)), default_min_size=base,
                      short_cycle_factors=factors)
    return out
