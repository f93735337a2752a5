"""Video decoders behind one contract (registry DECODERS): open a path, report its frame count and fps, and
return exactly the RGB frames asked for as one uint8 array (n, H, W, 3), or raise VideoDecodeError(path, reason).

Backends: `opencv` (default; the fastest here), `pyav` (precise errors, decodes AV1), `decord` (PaddleVideo's
choice; Linux x86_64 wheels only). A read seeks once to the first wanted frame and decodes forward, so one clip
never costs a decode of the whole video. Decoders lie: OpenCV returns fewer frames than it reports on truncated
or corrupt files, "succeeds" in seeking past the end of a truncated one, and "opens" AV1 to return nothing;
decord cannot open AV1 and returns wrong frames for some stream-copied files (no outside check can see that:
so a file whose edit list hides leading frames is refused with that reason). So every read checks that it got
every frame it asked for, where it asked, and nothing is ever returned half-filled.

The frame count a container declares is a hint. A stream-copied cut (`ffmpeg -ss 1.5 -i in.mp4 -c copy`)
declares the pre-roll frames its edit list hides (137 declared, 92 decode). When a stream ends quietly before
the declared count, the reader corrects `num_frames` to the frames that decoded, logs a one-line note with both
counts, and raises `FramesEnded`; `read_planned` then plans the read again over the corrected count. A stream
that ends with an error, or before its first frame, stays a VideoDecodeError. MKV/WebM declare no count: it is
duration x rate. Rotation metadata (a display matrix) is applied by every backend, so all give the same frames.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
from typing import Callable, Iterator, Optional, Sequence, Set, Tuple

import numpy as np

from ..errors import SlowFastError, VideoDecodeError
from ..registry import DECODERS

logger = logging.getLogger("paddlevideo_slowfast.data")
_noted: Set[str] = set()  # paths whose count correction was logged in this process

# A forward gap longer than one GOP at x264's default keyint (250) is cheaper to seek across than to decode through.
SEEK_GAP = 250


@contextlib.contextmanager
def decode_errors(path: str) -> Iterator[None]:
    """Turn any library error (FFmpeg, OpenCV, decord, OS) raised inside the block into a VideoDecodeError."""
    try:
        yield
    except SlowFastError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # each backend has its own exception types; all mean "this file cannot be read"
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise VideoDecodeError(path, f"{type(exc).__name__}: {message}"[:300]) from exc


class FramesEnded(VideoDecodeError):
    """The stream ended quietly at `decoded` frames, before a wanted index: the declared count was too high."""

    def __init__(self, path: str, reason: str, decoded: int):
        super().__init__(path, reason)
        self.decoded = int(decoded)


def stream_error_after(path: str, frame: int, fps: float) -> str:
    """PyAV's error decoding `path` from the keyframe before `frame` to its end, or "" when it ends cleanly.

    OpenCV hides decode errors: a truncated file and a cut both just stop, so this tells them apart."""
    import av

    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            if frame > 0 and stream.time_base:
                target = (stream.start_time or 0) + int(max(frame - 1, 0) / fps / stream.time_base)
                container.seek(target, stream=stream, backward=True, any_frame=False)
            for _ in container.decode(stream):
                pass
    except Exception as exc:  # any library error means the stream breaks
        text = str(exc).strip().splitlines()
        return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]
    return ""


def check_file(path: str) -> None:
    """Fail early, with a clear reason, on a path that is missing, not a file, or empty."""
    if not os.path.exists(path):
        raise VideoDecodeError(path, "no such file")
    if not os.path.isfile(path):
        raise VideoDecodeError(path, "not a regular file")
    if os.path.getsize(path) == 0:
        raise VideoDecodeError(path, "empty file (0 bytes)")


class VideoReader:
    """An open video: `num_frames`, `fps`, and `read(indices)`; subclasses implement `_open` and `_read_sorted`."""

    backend = ""

    def __init__(self, path: str, num_threads: int = 1):
        self.path = str(path)
        self.num_threads = int(num_threads)
        check_file(self.path)
        self.num_frames = 0
        self.fps = 0.0
        with decode_errors(self.path):
            self._open()
        self.declared_frames = self.num_frames  # the container's count (a hint); num_frames may be corrected
        if self.num_frames <= 0:
            self.close()
            raise VideoDecodeError(self.path, f"no frames ({self.backend} reports a frame count of "
                                              f"{self.num_frames})")
        if not self.fps > 0:
            self.close()
            raise VideoDecodeError(self.path, f"no frame rate ({self.backend} reports {self.fps})")

    def _open(self) -> None:
        raise NotImplementedError

    def _read_sorted(self, targets: np.ndarray) -> np.ndarray:
        """Frames at the strictly increasing indices `targets`, as (len(targets), H, W, 3) RGB uint8."""
        raise NotImplementedError

    def read(self, indices: Sequence[int]) -> np.ndarray:
        """RGB uint8 frames (n, H, W, 3) at `indices` (any order, repeats allowed), each decoded once."""
        wanted = np.asarray(indices, dtype=np.int64).reshape(-1)
        if wanted.size == 0:
            raise ValueError("read() needs at least one frame index")
        low, high = int(wanted.min()), int(wanted.max())
        if low < 0 or high >= self.num_frames:
            raise VideoDecodeError(self.path, f"frame index {low if low < 0 else high} outside 0..{self.num_frames - 1}"
                                              f" ({self.num_frames} frames)")
        targets = np.unique(wanted)
        with decode_errors(self.path):
            frames = self._read_sorted(targets)
        if frames.ndim != 4 or frames.shape[0] != targets.size or frames.shape[3] != 3 or frames.dtype != np.uint8:
            raise VideoDecodeError(self.path, f"{self.backend} returned {frames.shape} {frames.dtype} for "
                                              f"{targets.size} frames")
        if targets.size == wanted.size and np.array_equal(targets, wanted):
            return frames
        return frames[np.searchsorted(targets, wanted)]

    def read_planned(self, plan: Callable[[int], np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
        """(indices, frames) of `plan(num_frames)`; if the stream ends before the declared count, the plan is made
        again over the frames that do decode (so a clip is clamped to them) and read once more."""
        index = np.asarray(plan(self.num_frames), dtype=np.int64)
        try:
            return index, self.read(index)
        except FramesEnded:
            index = np.asarray(plan(self.num_frames), dtype=np.int64)
            return index, self.read(index)

    def close(self) -> None:
        """Release the file and the decoder."""

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def _missing(self, index: int, got: int) -> VideoDecodeError:
        """The error for a stream that ended quietly after `got` frames while frame `index` was wanted."""
        if got <= 0:
            return VideoDecodeError(self.path, f"{self.backend} decodes no frame at all although it reports "
                                               f"{self.num_frames} (a codec it cannot decode, or corrupt)")
        if got >= self.num_frames:  # already corrected once: the stream cannot end earlier than it did
            return VideoDecodeError(self.path, f"stream ended at frame {got} while frame {index} was wanted "
                                               f"({self.num_frames} frames)")
        broken = self._stream_error(got)
        if broken:
            return VideoDecodeError(self.path, f"stream breaks after frame {got} of {self.declared_frames} "
                                               f"(truncated or corrupt): {broken}")
        self.num_frames = got
        if self.path not in _noted:
            _noted.add(self.path)
            logger.info("video %s: the container declares %d frames, %d decode; using those", self.path,
                        self.declared_frames, got)
        return FramesEnded(self.path, f"{got} of {self.declared_frames} declared frames decode", got)

    def _stream_error(self, got: int) -> str:
        """Why the stream stopped after `got` frames, when the backend hides it; "" for a clean end."""
        return ""


@DECODERS.register(name="opencv")
class OpenCVReader(VideoReader):
    """OpenCV's FFmpeg backend: grab() skips frames without colour conversion; retrieve() converts the wanted ones."""

    backend = "opencv"

    def _open(self) -> None:
        import cv2

        params = [cv2.CAP_PROP_N_THREADS, self.num_threads] if hasattr(cv2, "CAP_PROP_N_THREADS") else []
        self._cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG, params)
        if not self._cap.isOpened():
            raise VideoDecodeError(self.path, "OpenCV/FFmpeg cannot open it (not a video, or an unknown container)")
        if not self.num_frames:
            self.num_frames = int(round(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)))
            self.fps = float(self._cap.get(cv2.CAP_PROP_FPS))
        self._next = 0  # index of the frame the next grab() returns

    def _seek(self, index: int) -> None:
        import cv2

        if index == 0:  # a fresh capture: OpenCV's seek back to 0 of a one-frame file then grabs nothing
            self.close()
            self._open()
            return
        cap = self._cap
        landed = int(cap.get(cv2.CAP_PROP_POS_FRAMES)) if cap.set(cv2.CAP_PROP_POS_FRAMES, index) else -1
        if landed != index:  # OpenCV "succeeds" past the end of a stream and stops at its end
            self._next = 1 << 62  # the capture is at an unknown place: the next read seeks
            if 0 <= landed < index:
                raise self._missing(index, landed)
            raise VideoDecodeError(self.path, f"cannot seek to frame {index} (landed on {landed} of "
                                              f"{self.num_frames}: truncated or corrupt)")
        self._next = index

    def _grab(self, index: int) -> None:
        if not self._cap.grab():
            got, self._next = self._next, 1 << 62
            raise self._missing(index, got)
        self._next += 1

    def _stream_error(self, got: int) -> str:
        return stream_error_after(self.path, got, self.fps)

    def _read_sorted(self, targets: np.ndarray) -> np.ndarray:
        import cv2

        out = None
        for k, index in enumerate(targets.tolist()):
            if index < self._next or index - self._next > SEEK_GAP or (k == 0 and index > self._next):
                self._seek(index)
            while self._next < index:
                self._grab(index)
            self._grab(index)
            cap = self._cap
            if out is None:
                ok, first = cap.retrieve()
                if not ok or first is None or first.ndim != 3 or first.shape[2] != 3:
                    raise VideoDecodeError(self.path, f"frame {index} decodes to nothing")
                out = np.empty((len(targets),) + first.shape, np.uint8)
                out[0] = first
            else:
                ok, frame = cap.retrieve(out[k])
                if not ok or frame is None:
                    raise VideoDecodeError(self.path, f"frame {index} decodes to nothing")
                if frame.shape != out.shape[1:]:
                    raise VideoDecodeError(self.path, f"frame {index} is {frame.shape[:2]}, earlier frames "
                                                      f"{out.shape[1:3]}")
                if not np.shares_memory(frame, out[k]):
                    out[k] = frame
            cv2.cvtColor(out[k], cv2.COLOR_BGR2RGB, dst=out[k])
        return out

    def close(self) -> None:
        cap = getattr(self, "_cap", None)
        if cap is not None:
            cap.release()
            self._cap = None


@DECODERS.register(name="pyav")
class PyAVReader(VideoReader):
    """PyAV (FFmpeg's libraries): frame positions come from timestamps, so a jump in the stream is detected."""

    backend = "pyav"

    def _open(self) -> None:
        import av
        from av.video.reformatter import VideoReformatter

        self._container = av.open(self.path)
        if not self._container.streams.video:
            raise VideoDecodeError(self.path, "no video stream")
        stream = self._stream = self._container.streams.video[0]
        stream.thread_type = "AUTO" if self.num_threads > 1 else "SLICE"
        stream.codec_context.thread_count = self.num_threads
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        self.fps = float(rate) if rate else 0.0
        self._tb = float(stream.time_base) if stream.time_base else 0.0
        self._start = stream.start_time or 0
        frames = int(stream.frames or 0)
        if frames <= 0 and self.fps:  # MKV and WebM store no count: duration x rate, as OpenCV and decord do
            if stream.duration and self._tb:
                seconds = stream.duration * self._tb
            else:
                seconds = (self._container.duration or 0) / 1_000_000  # av.time_base
            frames = int(round(seconds * self.fps))
        self.num_frames = frames
        self._decoder: Optional[Iterator] = None
        self._last = -1  # index of the last frame the decoder returned
        self._fresh = True  # nothing decoded yet: frame 0 needs no seek
        self._to_rgb = VideoReformatter()  # keeps its colour converter: 10x faster than frame.to_ndarray(format=)

    def _index(self, pts: Optional[int]) -> int:
        if pts is None:
            raise VideoDecodeError(self.path, "a frame without a timestamp")
        return int(round((pts - self._start) * self._tb * self.fps))

    def _seek(self, index: int) -> None:
        pts = self._start + int(index / self.fps / self._tb)
        self._container.seek(pts, stream=self._stream, backward=True, any_frame=False)
        self._decoder = self._container.decode(self._stream)
        self._last = -1

    def _read_sorted(self, targets: np.ndarray) -> np.ndarray:
        out = None
        for k, index in enumerate(targets.tolist()):
            if self._decoder is None or index <= self._last or index - self._last > SEEK_GAP:
                if index == 0 and self._fresh:
                    self._decoder = self._container.decode(self._stream)
                    self._fresh = False
                else:
                    self._seek(index)
            while True:
                frame = next(self._decoder, None)
                if frame is None:
                    got, self._decoder = self._last + 1, None
                    raise self._missing(index, got)
                position = self._index(frame.pts)
                if self._last < 0 and position > index:
                    raise VideoDecodeError(self.path, f"seeking to frame {index} landed on frame {position}")
                self._last = position
                if position < index:
                    continue
                if position > index:
                    raise VideoDecodeError(self.path, f"frame {index} is missing (the stream jumps to {position})")
                image = self._to_rgb.reformat(frame, format="rgb24").to_ndarray()
                turns = int(round(frame.rotation / 90)) % 4  # counter-clockwise quarter turns, as OpenCV applies
                if turns:
                    image = np.rot90(image, turns)
                if out is None:
                    out = np.empty((len(targets),) + image.shape, np.uint8)
                elif image.shape != out.shape[1:]:
                    raise VideoDecodeError(self.path, f"frame {index} is {image.shape[:2]}, earlier frames "
                                                      f"{out.shape[1:3]}")
                out[k] = image
                break
        return out

    def close(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            self._decoder = None
            container.close()
            self._container = None


@DECODERS.register(name="decord")
class DecordReader(VideoReader):
    """decord's VideoReader (PaddleVideo's decoder); it seeks and skips inside `get_batch`."""

    backend = "decord"

    def _open(self) -> None:
        import decord

        try:
            self._reader = decord.VideoReader(self.path, ctx=decord.cpu(0), num_threads=self.num_threads)
        except decord.DECORDError as exc:
            message = _decord_message(exc)
            if "cannot find video stream" in message:
                message = "no video stream its FFmpeg build decodes"
            raise VideoDecodeError(self.path, f"decord cannot read this {_codec_of(self.path)}video ({message}); "
                                              "another backend may: DATASET.backend or --backend pyav or opencv"
                                   ) from None
        self.num_frames = len(self._reader)
        self.fps = float(self._reader.get_avg_fps())
        if self.num_frames and self._reader.get_frame_timestamp([0])[0][0] < 0:
            hidden = int((self._reader.get_frame_timestamp(list(range(self.num_frames)))[:, 0] < 0).sum())
            raise VideoDecodeError(self.path, f"decord misnumbers the frames of a file whose edit list hides its first "
                                              f"{hidden} frames (a stream-copied cut); read it with another "
                                              "backend: DATASET.backend or --backend pyav or opencv")

    def _read_sorted(self, targets: np.ndarray) -> np.ndarray:
        import decord

        try:
            return np.ascontiguousarray(self._reader.get_batch(targets.tolist()).asnumpy())
        except decord.DECORDError as exc:
            raise VideoDecodeError(self.path, f"decord: {_decord_message(exc)}; another backend (pyav, opencv) "
                                              "may read it") from None

    def close(self) -> None:
        self._reader = None


def _decord_message(exc: Exception) -> str:
    """decord's error without its timestamp and source-file prefix, first line only."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return re.sub(r"^\[[\d:]+\] \S+:\d+: ", "", text)[:160]


def _codec_of(path: str) -> str:
    """'av1 ' when PyAV can name the video codec of `path` (reads the header only), else ''."""
    try:
        import av

        with av.open(path) as container:
            return f"{container.streams.video[0].codec_context.codec.canonical_name} "
    except Exception:  # only for a message
        return ""


def open_video(path: str, backend: str = "opencv", num_threads: int = 1) -> VideoReader:
    """Open `path` with the registered decoder `backend`; raises VideoDecodeError when it cannot be read."""
    return DECODERS.get(backend)(path, num_threads=num_threads)
