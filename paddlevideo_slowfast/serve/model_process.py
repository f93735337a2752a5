"""The model in a process of its own, fed its input arrays through shared memory and a pipe.

Paddle Inference holds the GIL for a whole forward pass (measured here: while another thread ran a 0.16 s
forward, the main thread's Python loop stood still for 0.16 s). In the server's process that would stop the
event loop and the decoding threads for every batch: no upload read, no /healthz answered, no request decoded
while the model runs, so batches would never fill. The child process builds the Predictor and runs each
forward it is sent (or a Detector for a detection model: slow, fast, proposals, rois_num); the parent's
inference thread waits on the pipe, which releases the GIL. The arrays go through shared memory, the pipe carries
only their shapes and dtypes and the probabilities: measured here for R50 views at 224 (23 MiB each), 3 ms per
view against 80 ms pickled through the pipe (and a forward of about a second).
A child that dies (killed, out of memory) fails the batch it was running and is started again for the next.
"""
from __future__ import annotations

import multiprocessing
import pickle
import threading
from multiprocessing import shared_memory
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np


def _forward(model_dir: str, task: str, options: Dict[str, Any]) -> Callable[..., np.ndarray]:
    """The model's forward: a Predictor's `predict_clips(slow, fast)`, or a Detector's runner on its four inputs."""
    if task == "detection":
        from ..deploy.detector import Detector

        return Detector(model_dir, **options).runner
    from ..deploy.predictor import Predictor

    return Predictor(model_dir, **options).predict_clips


def _child(conn, model_dir: str, task: str, options: Dict[str, Any], quiet: bool) -> None:
    """The child's loop: load the model, say ready (or why not), then answer forwards until told to stop."""
    from .. import runtime

    if quiet:
        runtime.quiet_paddle()
    try:
        forward = _forward(model_dir, task, options)
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
        name, layout = message
        try:
            if segment is None or segment.name != name:
                if segment is not None:
                    segment.close()
                segment = _attach(name)
            arrays = _views(segment, layout)
            probabilities = forward(*arrays)
            del arrays  # no view may outlive the segment
            conn.send(("ok", probabilities))
        except Exception as exc:  # noqa: BLE001 - this batch fails, the child goes on
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


def _attach(name: str) -> shared_memory.SharedMemory:
    """The parent's segment. A spawned child shares the parent's resource tracker, which holds one entry per name:
    attaching re-registers it (no change), and unregistering here would drop the parent's entry, so that the
    parent's unlink later made the tracker print a KeyError traceback. The parent unlinks every segment it made."""
    return shared_memory.SharedMemory(name=name)


Layout = List[Tuple[Tuple[int, ...], str]]  # (shape, dtype) of each array, laid one after the other


def _layout(arrays: Sequence[np.ndarray]) -> Layout:
    return [(tuple(a.shape), a.dtype.str) for a in arrays]


def _views(segment: shared_memory.SharedMemory, layout: Layout) -> List[np.ndarray]:
    """Arrays of `layout` laid one after the other in the segment."""
    arrays, offset = [], 0
    for shape, dtype in layout:
        array = np.ndarray(shape, np.dtype(dtype), segment.buf, offset)
        arrays.append(array)
        offset += array.nbytes
    return arrays


def _portable(exc: Exception) -> Exception:
    """`exc` if it survives pickling (our errors do), else a RuntimeError with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - an exception class whose constructor pickling cannot call
        return RuntimeError(f"{type(exc).__name__}: {exc}")


class ModelProcess:
    """`forward(*arrays) -> probabilities` run by the model in a spawned child process: a Predictor's
    `predict_clips(slow, fast)`, or for `task="detection"` a Detector's forward of (slow, fast, proposals, rois_num).

    options: Predictor (or Detector) keyword arguments (device, threads, runtime, batch_size, ...). The constructor
    returns once the model is loaded and raises the child's error when it cannot be."""

    def __init__(self, model_dir: str, task: str = "recognition", **options: Any):
        self.model_dir, self.task, self.options = str(model_dir), task, options
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
                                             args=(child, self.model_dir, self.task, self.options,
                                                   runtime.paddle_quiet()))
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

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        arrays = tuple(np.ascontiguousarray(a) for a in arrays)
        with self._lock:
            if not self.alive:
                self.restarts += 1
                self._start()
            segment = self._room(sum(a.nbytes for a in arrays))
            layout = _layout(arrays)
            views = _views(segment, layout)
            for view, array in zip(views, arrays):
                view[...] = array
            del views, view  # no view may outlive the segment
            try:
                self._conn.send((segment.name, layout))
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
