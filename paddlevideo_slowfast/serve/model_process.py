"""The model in a process of its own, fed stacked views through a pipe.

Paddle Inference holds the GIL for a whole forward pass (measured here: while another thread ran a 0.16 s
forward, the main thread's Python loop stood still for 0.16 s). In the server's process that would stop the
event loop and the decoding threads for every batch: no upload read, no /healthz answered, no request decoded
while the model runs, so batches would never fill. The child process builds the Predictor and runs each
forward it is sent; the parent's inference thread waits on the pipe, which releases the GIL. The clips go
through shared memory, the pipe carries only their shapes and the probabilities: measured here for R50 views
at 224 (23 MiB each), 3 ms per view against 80 ms pickled through the pipe (and a forward of about a second).
A child that dies (killed, out of memory) fails the batch it was running and is started again for the next.
"""
from __future__ import annotations

import multiprocessing
import pickle
import threading
from multiprocessing import shared_memory
from typing import Any, Dict, Optional, Tuple

import numpy as np


def _child(conn, model_dir: str, options: Dict[str, Any], quiet: bool) -> None:
    """The child's loop: build the Predictor, say ready (or why not), then answer forwards until told to stop."""
    from .. import runtime

    if quiet:
        runtime.quiet_paddle()
    try:
        from ..deploy.predictor import Predictor

        predictor = Predictor(model_dir, **options)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it there
        conn.send(("error", _portable(exc)))
        return
    conn.send(("ready", None))
    segment = None
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        name, slow_shape, fast_shape = message
        try:
            if segment is None or segment.name != name:
                if segment is not None:
                    segment.close()
                segment = _attach(name)
            slow, fast = _views(segment, slow_shape, fast_shape)
            probabilities = predictor.predict_clips(slow, fast)
            del slow, fast  # no view may outlive the segment
            conn.send(("ok", probabilities))
        except Exception as exc:  # noqa: BLE001 - this batch fails, the child goes on
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


def _attach(name: str) -> shared_memory.SharedMemory:
    """The parent's segment, not registered with the resource tracker a second time (the parent owns it:
    Python < 3.13 would otherwise report it leaked, or unlink it, when the child ends)."""
    segment = shared_memory.SharedMemory(name=name)
    try:
        from multiprocessing import resource_tracker

        resource_tracker.unregister(segment._name, "shared_memory")
    except Exception:  # noqa: BLE001 - only bookkeeping
        pass
    return segment


def _views(segment: shared_memory.SharedMemory, slow_shape, fast_shape) -> Tuple[np.ndarray, np.ndarray]:
    """float32 arrays of the two shapes laid one after the other in the segment."""
    slow = np.ndarray(slow_shape, np.float32, segment.buf, 0)
    fast = np.ndarray(fast_shape, np.float32, segment.buf, slow.nbytes)
    return slow, fast


def _portable(exc: Exception) -> Exception:
    """`exc` if it survives pickling (our errors do), else a RuntimeError with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - an exception class whose constructor pickling cannot call
        return RuntimeError(f"{type(exc).__name__}: {exc}")


class ModelProcess:
    """`forward(slow, fast) -> probabilities` run by a Predictor in a spawned child process.

    options: Predictor keyword arguments (device, threads, runtime, batch_size, ...). The constructor returns
    once the model is loaded and raises the child's error when it cannot be."""

    def __init__(self, model_dir: str, **options: Any):
        self.model_dir, self.options = str(model_dir), options
        self._context = multiprocessing.get_context("spawn")  # fork would copy the parent's threads and OpenMP
        self._lock = threading.Lock()
        self._conn = None
        self._segment: Optional[shared_memory.SharedMemory] = None
        self.process: Optional[multiprocessing.process.BaseProcess] = None
        self.restarts = 0
        self._start()

    def _start(self) -> None:
        from .. import runtime

        parent, child = self._context.Pipe()
        self.process = self._context.Process(target=_child, name="paddlevideo-model", daemon=True,
                                             args=(child, self.model_dir, self.options, runtime.paddle_quiet()))
        self.process.start()
        child.close()
        try:
            status, detail = parent.recv()
        except EOFError:
            self.process.join(5)
            raise RuntimeError(f"the model process exited with {self.process.exitcode} while loading "
                               f"{self.model_dir}") from None
        if status != "ready":
            self.process.join(5)
            raise detail
        self._conn = parent

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def __call__(self, slow: np.ndarray, fast: np.ndarray) -> np.ndarray:
        with self._lock:
            if not self.alive:
                self.restarts += 1
                self._start()
            segment = self._room(4 * (slow.size + fast.size))
            slow_view, fast_view = _views(segment, slow.shape, fast.shape)
            slow_view[...], fast_view[...] = slow, fast
            del slow_view, fast_view
            try:
                self._conn.send((segment.name, slow.shape, fast.shape))
                status, value = self._conn.recv()
            except (EOFError, OSError):
                self.process.join(5)
                raise RuntimeError(f"the model process died (exit code {self.process.exitcode}) during this "
                                   "batch; it is started again for the next") from None
        if status == "error":
            raise value
        return value

    def _room(self, size: int) -> shared_memory.SharedMemory:
        """A segment of at least `size` bytes: the current one, or a larger one replacing it (the child, which
        maps segments by name, keeps the old one mapped until it sees the new name)."""
        if self._segment is None or self._segment.size < size:
            old, self._segment = self._segment, shared_memory.SharedMemory(create=True, size=max(size, 1))
            if old is not None:
                old.close()
                old.unlink()
        return self._segment

    def close(self, timeout: float = 10.0) -> None:
        """Ask the child to stop; terminate it if it does not."""
        with self._lock:
            if self.alive:
                try:
                    self._conn.send(None)
                except OSError:
                    pass
                self.process.join(timeout)
                if self.process.is_alive():
                    self.process.terminate()
                    self.process.join(timeout)
            if self._segment is not None:
                self._segment.close()
                self._segment.unlink()
                self._segment = None
