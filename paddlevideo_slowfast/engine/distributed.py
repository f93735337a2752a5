"""Process-group facts for runs started by `python -m paddle.distributed.launch` (GPU or CPU/gloo)."""
from __future__ import annotations

import os

from .watchdog import guard


def world_size() -> int:
    """Number of trainer processes (1 without the launcher)."""
    return int(os.environ.get("PADDLE_TRAINERS_NUM", "1"))


def rank() -> int:
    """This process's rank (0 without the launcher)."""
    return int(os.environ.get("PADDLE_TRAINER_ID", "0"))


def is_main_process() -> bool:
    return rank() == 0


def init_distributed() -> bool:
    """Join the process group when launched with several processes; returns whether it is distributed."""
    if world_size() <= 1:
        return False
    import paddle.distributed as dist

    if not dist.is_initialized():
        dist.init_parallel_env()
    return True


def gather_lists(items: list) -> list:
    """Every rank's `items`, concatenated in rank order (the list itself in a single process)."""
    if world_size() <= 1:
        return list(items)
    import paddle.distributed as dist

    parts: list = []
    with guard("gathering the ranks' lists"):
        dist.all_gather_object(parts, list(items))
    return [item for part in parts for item in part]


def barrier(what: str = "") -> None:
    """Wait for every rank (no-op in a single process); `what` names it if it never returns."""
    if world_size() > 1:
        import paddle.distributed as dist

        with guard(f"barrier '{what}'"):
            dist.barrier()


def broadcast_buffers(model) -> None:
    """Give every rank rank 0's untrained state (BN running statistics), as DDP's broadcast_buffers does: on CPU
    each rank keeps its own (no SyncBN; PreciseBN sees its own batches), so a distributed validation would otherwise
    score a different model on each rank than the checkpoint rank 0 writes. No-op in a single process."""
    if world_size() <= 1:
        return
    import paddle.distributed as dist

    # Paddle's BN keeps _mean/_variance as parameters with stop_gradient, not as buffers
    with guard("broadcasting BN statistics from rank 0"):
        for tensor in [p for p in model.parameters() if p.stop_gradient] + list(model.buffers()):
            dist.broadcast(tensor, src=0)
