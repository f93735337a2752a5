"""Dynamic batching: the views of concurrent requests share forward passes, run by one inference thread.

A request submits its stacked views (V, ...) and gets a `concurrent.futures.Future` of their probabilities
(V, classes). The thread takes the oldest job, then keeps taking jobs while their views fit in `max_batch` and
`max_wait` seconds have not passed since the first one arrived; it stacks them, runs the forward (which cuts
more than `max_batch` views, a single 10x3 request say, into passes of `max_batch`) and hands each job its
own rows. A job cancelled before its batch starts (its client went away) is dropped unrun. One thread owns the
model: Paddle Inference predictors are not shared between threads.
"""
from __future__ import annotations

import collections
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable, Deque, List, Optional

import numpy as np

from .metrics import ServiceMetrics

Forward = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Job:
    """One request's (or one window's) views and the future of their probabilities."""

    slow: np.ndarray   # (V, C, T/alpha, H, W)
    fast: np.ndarray   # (V, C, T, H, W)
    future: Future = field(default_factory=Future)
    arrived: float = field(default_factory=time.monotonic)

    @property
    def views(self) -> int:
        return len(self.slow)


class Batcher:
    """The inference thread and its queue; `submit` is safe from any thread, `stop` drains what was queued."""

    def __init__(self, forward: Forward, *, max_batch: int, max_wait: float,
                 metrics: Optional[ServiceMetrics] = None):
        self.forward, self.max_batch, self.max_wait = forward, max(1, int(max_batch)), max(0.0, float(max_wait))
        self.metrics = metrics
        self._jobs: Deque[Job] = collections.deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="inference", daemon=True)
        self.batches = 0

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, slow: np.ndarray, fast: np.ndarray) -> Future:
        """Queue one job; its future gets the (V, classes) probabilities or the forward's exception."""
        job = Job(slow, fast)
        with self._cond:
            if self._stopping:
                raise RuntimeError("the batcher is stopped")
            self._jobs.append(job)
            self._gauge(job.views)
            self._cond.notify()
        return job.future

    def stop(self, timeout: Optional[float] = None) -> None:
        """Run the jobs already queued, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _gauge(self, delta: int) -> None:
        if self.metrics is not None:
            self.metrics.waiting.add(delta)

    def _loop(self) -> None:
        while True:
            batch = self._collect()
            if batch is None:
                return
            running = [job for job in batch if job.future.set_running_or_notify_cancel()]
            if running:
                self._run(running)

    def _collect(self) -> Optional[List[Job]]:
        """The next batch: the oldest job plus those that fit in max_batch views, waiting at most max_wait
        after the oldest arrived; None once stopped and drained."""
        with self._cond:
            while not self._jobs:
                if self._stopping:
                    return None
                self._cond.wait()
            batch = [self._jobs.popleft()]
            views = batch[0].views
            deadline = batch[0].arrived + self.max_wait
            while views < self.max_batch:
                if self._jobs:
                    if views + self._jobs[0].views > self.max_batch:
                        break
                    batch.append(self._jobs.popleft())
                    views += batch[-1].views
                    continue
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping:
                    break
                self._cond.wait(left)
            self._gauge(-views)
            return batch

    def _run(self, jobs: List[Job]) -> None:
        slow = np.concatenate([job.slow for job in jobs]) if len(jobs) > 1 else jobs[0].slow
        fast = np.concatenate([job.fast for job in jobs]) if len(jobs) > 1 else jobs[0].fast
        try:
            probabilities = self.forward(slow, fast)
        except Exception as exc:  # the model failed on this batch: its requests get the error, the thread goes on
            for job in jobs:
                job.future.set_exception(exc)
            return
        self.batches += 1
        if self.metrics is not None:
            for start in range(0, len(slow), self.max_batch):
                self.metrics.batch_size.observe(min(self.max_batch, len(slow) - start))
        row = 0
        for job in jobs:
            job.future.set_result(probabilities[row:row + job.views])
            row += job.views
