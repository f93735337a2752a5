"""The service behind the routes: admission (a bounded number of requests in flight), decoding in a thread pool,
the dynamic batcher, and the live streams it classifies (a detection model's service: detection.py).

Decoding runs in `decoders` pool threads, never on the event loop: PyAV, OpenCV and the numpy/cv2 transforms
release the GIL for their heavy parts, so a slow or large upload never stalls the loop or the other requests.
An uploaded body goes to a temporary file (the decoders read paths) that is removed once decoded.
"""
from __future__ import annotations

import collections
import itertools
import os
import shutil
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Deque, Dict, List, Optional, Tuple, Union

from ..deploy.inputs import VIDEO_SUFFIXES
from ..deploy.predictor import Predictor
from ..errors import VideoDecodeError
from .batcher import Batcher
from .metrics import ServiceMetrics
from .model_process import ModelProcess
from .streams import LiveSource
from .uploads import diagnose

MAX_STREAM_RESULTS = 100  # windows kept per stream for GET /v1/streams/{id}


@dataclass
class Options:
    """What `paddlevideo serve` sets: batching, limits and the folder requests may name."""

    max_batch: int = 8
    max_wait_ms: float = 10.0
    max_queue: int = 64
    max_upload_mb: float = 100.0
    decoders: int = 2
    allow_dir: Optional[Path] = None
    allow_streams: bool = False


@dataclass
class Submitted:
    """A request's forward jobs: one per video, or one per timeline window with its [start, end)."""

    futures: List[Future] = field(default_factory=list)
    spans: List[Tuple[Optional[float], Optional[float]]] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self.cancelled.set()
        for future in self.futures:
            future.cancel()


class BaseService:
    """What every served model shares: admission (a bounded number of requests in flight), the decode pool, the
    folder of uploads, the metrics; `task` says which routes answer."""

    task = ""

    def __init__(self, options: Options, model: Optional[ModelProcess] = None,
                 metrics: Optional[ServiceMetrics] = None):
        self.options, self.model = options, model
        self.metrics = metrics or ServiceMetrics(options.max_batch)
        self.pool = ThreadPoolExecutor(max(1, options.decoders), thread_name_prefix="decode")
        self.upload_dir = Path(tempfile.mkdtemp(prefix="paddlevideo-serve-"))
        self.admitted = 0  # touched on the event loop only
        self.streams: Dict[str, "Stream"] = {}  # live sources (a recognition model's only)
        self.ready = False

    @property
    def max_upload_bytes(self) -> int:
        return int(self.options.max_upload_mb * 1024 * 1024)

    @property
    def model_dir(self) -> Path:
        raise NotImplementedError

    @property
    def labels(self) -> List[str]:
        raise NotImplementedError

    @property
    def alive(self) -> bool:
        """Ready, and the model process (when there is one) runs."""
        return self.ready and (self.model is None or self.model.alive)

    def start(self) -> None:
        self.ready = True

    def close(self) -> None:
        """Free the model process, the pool and the upload folder."""
        self.ready = False
        if self.model is not None:
            self.model.close()
        self.pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.upload_dir, ignore_errors=True)

    def admit(self) -> bool:
        """Take a slot for one request, or False when `max_queue` are already in flight."""
        if self.admitted >= self.options.max_queue:
            return False
        self.admitted += 1
        self.metrics.queue_depth.set(self.admitted)
        return True

    def release(self) -> None:
        self.admitted -= 1
        self.metrics.queue_depth.set(self.admitted)

    def _as_file(self, source: Union[bytes, Path], name: str, suffixes: Tuple[str, ...] = VIDEO_SUFFIXES,
                 default: str = ".bin") -> Tuple[Path, bool]:
        """`source` as a file the readers take: a path as it is, bytes written to a temporary file (True: remove
        it after use) named with `name`'s suffix when it is one of `suffixes`."""
        if isinstance(source, Path):
            return source, False
        suffix = Path(name).suffix.lower()
        handle, path = tempfile.mkstemp(suffix=suffix if suffix in suffixes else default, dir=self.upload_dir)
        with os.fdopen(handle, "wb") as out:
            out.write(source)
        return Path(path), True

    def resolve(self, relative: str) -> Path:
        """A path named by a request, inside --allow-dir; PermissionError when off or outside it."""
        root = self.options.allow_dir
        if root is None:
            raise PermissionError("reading files on the server is off (start it with --allow-dir DIR)")
        root = root.resolve()
        target = (root / relative).resolve()
        if target != root and root not in target.parents:
            raise PermissionError(f"'{relative}' is outside the allowed folder")
        return target


class Service(BaseService):
    """A recognition model: a Predictor preparing the clips, the model (a ModelProcess, or the Predictor itself),
    the dynamic batcher, and the live streams."""

    task = "recognition"

    def __init__(self, predictor: Predictor, options: Options, model: Optional[ModelProcess] = None,
                 metrics: Optional[ServiceMetrics] = None):
        super().__init__(options, model, metrics)
        self.predictor = predictor
        predictor.batch_size = max(1, int(options.max_batch))
        self.batcher = Batcher(model or predictor.predict_clips, max_batch=options.max_batch,
                               max_wait=options.max_wait_ms / 1000.0, metrics=self.metrics)
        self._stream_ids = itertools.count(1)

    @property
    def model_dir(self) -> Path:
        return self.predictor.model_dir

    @property
    def labels(self) -> List[str]:
        return self.predictor.labels

    @property
    def alive(self) -> bool:
        return super().alive and self.batcher.alive

    def start(self) -> None:
        self.batcher.start()
        super().start()

    def close(self) -> None:
        """Stop the streams, run what is queued, free the pool and the upload folder."""
        self.ready = False
        for stream in list(self.streams.values()):
            stream.stop()
        self.batcher.stop(timeout=60)
        super().close()

    def submit(self, source: Union[bytes, Path], name: str, views: Tuple[int, int],
               windows: Optional[float], submitted: Submitted) -> Submitted:
        """In a pool thread: decode the video (bytes of an upload, or a path) and queue its views.

        A timeline queues each window as it is decoded and keeps at most `max_batch` of its views waiting,
        so a long video never holds all its windows in memory at once."""
        path, temporary = self._as_file(source, name)
        try:
            return self._submit(path, views, windows, submitted)
        except VideoDecodeError as exc:
            raise VideoDecodeError(name, diagnose(path) or exc.reason) from None
        finally:
            if temporary:
                path.unlink(missing_ok=True)

    def _submit(self, path: Path, views: Tuple[int, int], windows: Optional[float],
                submitted: Submitted) -> Submitted:
        if not windows:
            slow, fast = self.predictor.video_clips(path, views)
            self._queue(submitted, slow, fast, (None, None))
            return submitted
        for window in self.predictor.window_clips(path, windows, views):
            if submitted.cancelled.is_set():
                break
            self._queue(submitted, window.slow, window.fast, (window.start, window.end))
            pending = [f for f in submitted.futures if not f.done()]
            if len(pending) * len(window.slow) > self.options.max_batch:
                pending[0].exception()  # wait for the oldest window before decoding more
        return submitted

    def _queue(self, submitted: Submitted, slow, fast, span: Tuple[Optional[float], Optional[float]]) -> None:
        future = self.batcher.submit(slow, fast)
        submitted.spans.append(span)
        submitted.futures.append(future)
        if submitted.cancelled.is_set():  # the client left while this was decoding
            future.cancel()

    def results(self, name: str, submitted: Submitted, top_k: int) -> List[Dict[str, Any]]:
        """`predict --json` records of the finished jobs: one per video or window."""
        records = []
        for future, (start, end) in zip(submitted.futures, submitted.spans):
            where = {} if start is None else {"start": start, "end": end}
            records.append(self.predictor.prediction(name, future.result(), top_k, **where).to_json())
        return records

    def open_stream(self, url: str, seconds: float, views: Tuple[int, int], top_k: int) -> "Stream":
        stream = Stream(f"s{next(self._stream_ids)}", url, seconds, views, top_k, self)
        self.streams[stream.id] = stream
        stream.start()
        return stream


class Stream:
    """A live source classified window by window in its own thread, each window's views through the batcher;
    the last MAX_STREAM_RESULTS windows are kept for GET /v1/streams/{id} and its /windows feed."""

    def __init__(self, stream_id: str, url: str, seconds: float, views: Tuple[int, int], top_k: int,
                 service: Service):
        self.id, self.url, self.seconds, self.views, self.top_k = stream_id, url, seconds, views, top_k
        self.service = service
        self.results: Deque[Dict[str, Any]] = collections.deque(maxlen=MAX_STREAM_RESULTS)
        self.windows = 0
        self._results_lock = threading.Lock()
        self.log: Deque[str] = collections.deque(maxlen=20)
        self._stop = threading.Event()
        self.source = LiveSource(url, log=self._note, stop=self._stop)
        self._thread = threading.Thread(target=self._run, name=f"stream-{stream_id}", daemon=True)

    def _note(self, message: str) -> None:
        self.log.append(message)
        if message.endswith(": reconnected"):
            self.service.metrics.reconnects.inc()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self.service.metrics.streams.add(1)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        predictor = self.service.predictor
        try:
            for window in self.source.windows(self.seconds):
                slow, fast = predictor.frame_clips(window.frames, window.fps, self.views)
                try:
                    future = self.service.batcher.submit(slow, fast)
                except RuntimeError:  # the batcher stopped: the service is closing
                    break
                try:
                    probabilities = future.result()
                except Exception as exc:  # noqa: BLE001 - the model failed on this window; the next may pass
                    self._note(f"stream {self.url}: window {window.start}-{window.end} s failed: {exc}")
                    continue
                record = predictor.prediction(self.url, probabilities, self.top_k, start=window.start,
                                              end=window.end).to_json()
                with self._results_lock:
                    self.results.append(record)
                    self.windows += 1
                self.service.metrics.windows.inc()
        except Exception as exc:  # noqa: BLE001 - a stream's failure ends that stream, not the service
            self._note(f"stream {self.url}: stopped by {type(exc).__name__}: {exc}")
        finally:
            self.service.metrics.streams.add(-1)

    def since(self, first: int) -> Tuple[List[Dict[str, Any]], int]:
        """The kept records of windows numbered `first` on (from 0), and the number of windows so far."""
        with self._results_lock:
            kept, total = list(self.results), self.windows
        return kept[max(0, len(kept) - (total - first)):], total

    def state(self) -> Dict[str, Any]:
        running = self._thread.is_alive()
        return {"id": self.id, "url": self.url, "windows_seconds": self.seconds,
                "state": ("connected" if self.source.connected else "connecting") if running else "stopped",
                "windows": self.windows, "reconnects": self.source.reconnects, "log": list(self.log),
                "results": list(self.results)}
