"""`build_dataloader(cfg, mode)`: the dataset of `DATASET.<mode>` with the pipeline of `PIPELINE.<mode>`, batched
by `paddle.io.DataLoader` with `DATASET.num_workers` worker processes.

- Batches: `DATASET.batch_size` clips per process in training, `DATASET.valid_batch_size` (default: batch_size)
  in validation, `DATASET.test_batch_size` videos in test (each video carries all its views: see datasets.py).
- Sampling: Paddle's `DistributedBatchSampler` in every process count (one replica when alone), so each process
  takes its own share of one global order shuffled per epoch. Every index travels with its epoch, so an item's
  random crops depend on (seed, epoch, index) only: no two workers repeat each other, every epoch differs, and
  a resumed run sees the same data. Call `loader.set_epoch(epoch)` before each epoch.
- Workers: one OpenCV/FFmpeg thread each (the fastest aggregate on few cores; set in this process before the
  workers fork, which they inherit) and global RNGs seeded from (seed, epoch, rank, worker) for any third-party
  stage that uses them.
- Workers never outlive the trainer: each asks Linux to kill it when its parent dies (PR_SET_PDEATHSIG) and
  a watchdog thread checks its parent as a fallback, so a `kill -9` of the trainer leaves no orphan. They
  ignore Ctrl-C, which the trainer handles (it stops between steps and shuts them down).
- Bad videos: workers report them to the dataset (`loader.dataset.bad_count`, `.bad_videos`, `.unscored`),
  taken in after every batch and logged once per file.
- `DATASET.embedded` (a mapping of `ensure_embedded_dataset` arguments, or with `task: detection` of
  `ensure_embedded_ava`'s) generates the embedded dataset first when it is missing.
Test memory in flight is about num_workers x 2 x V x one clip (30 views of 32x256x256 are 0.85 GB a video).
"""
from __future__ import annotations

import ctypes
import functools
import os
import random
import signal
import threading
import time
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import numpy as np

from ..config import get, require
from ..errors import ConfigError
from ..registry import DATASETS
from .compose import build_pipeline


def _world() -> Tuple[int, int]:
    """(world size, rank) of this process in a paddle.distributed launch."""
    import paddle.distributed as dist

    return max(1, dist.get_world_size()), max(0, dist.get_rank())


def batch_size_for(cfg: Mapping[str, Any], mode: str) -> int:
    """Per-process batch size of `mode` (clips in train/valid, videos in decode-once test)."""
    base = int(require(cfg, "DATASET.batch_size", (int,)))
    if mode == "valid":
        return int(get(cfg, "DATASET.valid_batch_size", None) or base)
    if mode == "test":
        return int(get(cfg, "DATASET.test_batch_size", None) or 1)
    return base


def ensure_embedded(options: Dict[str, Any]) -> None:
    """Generate the embedded dataset `DATASET.embedded` asks for: `task: detection` the AVA-format one."""
    task = options.pop("task", "recognition")
    if task == "detection":
        from .ava_synthetic import ensure_embedded_ava

        ensure_embedded_ava(**options)
    elif task == "recognition":
        from .synthetic import ensure_embedded_dataset

        ensure_embedded_dataset(**options)
    else:
        raise ConfigError(f"unknown embedded dataset task '{task}'", key="DATASET.embedded.task",
                          expected="recognition or detection")


def build_dataset(cfg: Mapping[str, Any], mode: str, *, seed: Optional[int] = None):
    """The dataset of `DATASET.<mode>` with the pipeline of `PIPELINE.<mode>`."""
    if mode not in ("train", "valid", "test"):
        raise ConfigError(f"unknown mode '{mode}'", key="mode", expected="train, valid or test")
    embedded = get(cfg, "DATASET.embedded", None)
    if embedded:
        ensure_embedded(dict(embedded))
    node = require(cfg, f"DATASET.{mode}", (Mapping,))
    pipeline = build_pipeline(require(cfg, f"PIPELINE.{mode}", (Mapping,)), where=f"PIPELINE.{mode}")
    extra = dict(pipeline=pipeline, mode=mode, seed=int(seed if seed is not None else get(cfg, "seed", 0) or 0),
                 backend=get(cfg, "DATASET.backend", None))
    if mode == "test":
        extra["test_mode"] = True
    return DATASETS.build(node, key="format", where=f"DATASET.{mode}", **extra)


class EpochBatchSampler:
    """Batches of (index, epoch) pairs from Paddle's DistributedBatchSampler, in every process count.

    One process uses the same sampler with one replica, so its order is the global order the ranks split:
    rank r takes the r-th `batch_size` slice of each global batch, and a single process that accumulates
    `world_size` micro-batches per step sees exactly the samples of a `world_size`-process step.
    The order is shuffled per epoch when `shuffle` (Paddle's sampler seeds its shuffle with the epoch).
    """

    def __init__(self, dataset: Any, batch_size: int, *, shuffle: bool, drop_last: bool, seed: int = 0,
                 world_size: int = 1, rank: int = 0):
        from paddle.io import DistributedBatchSampler

        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, int(batch_size), shuffle, drop_last
        self.seed, self.epoch = int(seed), 0
        self.inner = DistributedBatchSampler(dataset, batch_size=self.batch_size, num_replicas=world_size,
                                             rank=rank, shuffle=shuffle, drop_last=drop_last)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self.inner.set_epoch(self.epoch)

    def __iter__(self) -> Iterator[List[Tuple[int, int]]]:
        self.inner.set_epoch(self.epoch)  # Paddle's sampler advances its own epoch on each pass
        for batch in self.inner:
            yield [(int(i), self.epoch) for i in batch]

    def __len__(self) -> int:
        return len(self.inner)


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent: int, *, poll_s: float = 1.0) -> None:
    """End this process when `parent` (the trainer) dies, even by SIGKILL: Linux's parent-death signal, plus a
    daemon thread that polls os.getppid() (the fallback where prctl is missing, and for a parent that died
    before prctl was called). Workers hold no state worth saving, so they leave with os._exit."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux
        pass
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def worker_init(worker_id: int, parent: Optional[int] = None) -> None:
    """In each loader worker: exit with the trainer, ignore Ctrl-C, and seed the global RNGs from
    (seed, epoch, rank, worker) for third-party stages.

    OpenCV's thread count is set before the fork (see build_dataloader): cv2.setNumThreads in a child forked
    from a process whose OpenCV threads had started hangs, waiting for threads the child does not have."""
    from paddle.io import get_worker_info

    if parent is not None:
        die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    dataset = get_worker_info().dataset
    rank = int(os.environ.get("PADDLE_TRAINER_ID", 0))
    state = np.random.SeedSequence([getattr(dataset, "seed", 0), getattr(dataset, "epoch", 0), rank, worker_id])
    seed = int(state.generate_state(1)[0])
    random.seed(seed)
    np.random.seed(seed)


class VideoLoader:
    """A paddle DataLoader plus `set_epoch`, and the dataset's bad-video record brought up to date per batch."""

    def __init__(self, loader: Any, dataset: Any, batch_sampler: Any):
        self.loader, self.dataset, self.batch_sampler = loader, dataset, batch_sampler

    @property
    def batch_size(self) -> int:
        return self.batch_sampler.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Shuffle order and random crops of `epoch` (call before iterating it)."""
        self.batch_sampler.set_epoch(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __iter__(self) -> Iterator[Any]:
        bad = getattr(self.dataset, "bad", None)
        for batch in self.loader:
            if bad is not None:
                bad.drain()
            yield batch
        if bad is not None:
            bad.drain()

    def __len__(self) -> int:
        return len(self.batch_sampler)


def build_dataloader(cfg: Mapping[str, Any], mode: str, *, seed: Optional[int] = None,
                     batch_size: Optional[int] = None, num_workers: Optional[int] = None,
                     places: Any = None) -> VideoLoader:
    """The loader the trainer iterates for `mode` ('train', 'valid' or 'test'); see the module docstring."""
    dataset = build_dataset(cfg, mode, seed=seed)
    world_size, rank = _world()
    train = mode == "train"
    sampler = EpochBatchSampler(dataset, batch_size or batch_size_for(cfg, mode), shuffle=train, drop_last=train,
                                seed=getattr(dataset, "seed", 0), world_size=world_size, rank=rank)
    return make_loader(cfg, dataset, sampler, num_workers=num_workers, places=places)


def make_loader(cfg: Mapping[str, Any], dataset: Any, sampler: Any, *, num_workers: Optional[int] = None,
                places: Any = None) -> VideoLoader:
    """A VideoLoader over `dataset` in the batches of `sampler` (an EpochBatchSampler or multigrid's
    ShortCycleBatchSampler), with `DATASET.num_workers` workers unless `num_workers` is given."""
    from paddle.io import DataLoader

    workers = int(num_workers if num_workers is not None else get(cfg, "DATASET.num_workers", 0) or 0)
    if workers > 0:
        import cv2

        cv2.setNumThreads(1)  # inherited by the forked workers: one OpenCV thread each
        if hasattr(dataset, "bad"):
            dataset.bad.share()
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=workers, places=places, return_list=True,
                        worker_init_fn=functools.partial(worker_init, parent=os.getpid()) if workers > 0 else None)
    return VideoLoader(loader, dataset, sampler)
