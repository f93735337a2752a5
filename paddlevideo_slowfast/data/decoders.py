"""Video decoders behind one contract (registry DECODERS): open a path, report its frame count and fps, and
return exactly the RGB frames asked for as one uint8 array (n, H, W, 3), or raise VideoDecodeError(path, reason).

Backends: `opencv` (default; the fastest here), `pyav` (precise errors, decodes AV1), `decord` (PaddleVideo's
choice; Linux x86_64 wheels only). A read seeks once to the first wanted frame and decodes forward, so one clip
never costs a decode of the whole video. Decoders lie: OpenCV returns fewer frames than it reports on truncated
or corrupt files, "succeeds" in seeking past the end of a truncated one, and "opens" AV1 to return nothing;
decord cannot open AV1 and returns wrong frames for some stream-copied files (no outside check can see that:
prefer opencv or pyav for such data). So every read checks that it got every frame it asked for, where it
asked, and nothing is ever returned half-filled.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator, Optional, Sequence

import numpy as np

from ..errors import SlowFastError, VideoDecodeError
from ..registry import DECODERS

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
        if got == 0:
            return VideoDecodeError(self.path, f"{self.backend} decodes no frame at all although it reports "
                                               f"{self.num_frames} (a codec it cannot decode, or corrupt)")
        return VideoDecodeError(self.path, f"stream ended at frame {got} while frame {index} was wanted "
                                           f"({self.backend} reports {self.num_frames} frames: truncated or corrupt)")


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
        self.num_frames = int(round(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS))
        self._next = 0  # index of the frame the next grab() returns

    def _read_sorted(self, targets: np.ndarray) -> np.ndarray:
        import cv2

        cap, out = self._cap, None
        for k, index in enumerate(targets.tolist()):
            if index < self._next or index - self._next > SEEK_GAP or (k == 0 and index > self._next):
                landed = int(cap.get(cv2.CAP_PROP_POS_FRAMES)) if cap.set(cv2.CAP_PROP_POS_FRAMES, index) else -1
                if landed != index:  # OpenCV "succeeds" past the end of a truncated file and stops at its end
                    raise VideoDecodeError(self.path, f"cannot seek to frame {index} (landed on {landed} of "
                                                      f"{self.num_frames}: truncated or corrupt)")
                self._next = index
            while self._next < index:
                if not cap.grab():
                    raise self._missing(index, self._next)
                self._next += 1
            if not cap.grab():
                raise self._missing(index, self._next)
            self._next += 1
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
        if frames <= 0 and stream.duration and self._tb and self.fps:
            frames = int(round(stream.duration * self._tb * self.fps))
        self.num_frames = frames
        self._decoder: Optional[Iterator] = None
        self._last = -1  # index of the last frame the decoder returned
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
                if index == 0 and self._decoder is None:
                    self._decoder = self._container.decode(self._stream)
                else:
                    self._seek(index)
            while True:
                frame = next(self._decoder, None)
                if frame is None:
                    raise self._missing(index, self._last + 1)
                position = self._index(frame.pts)
                if self._last < 0 and position > index:
                    raise VideoDecodeError(self.path, f"seeking to frame {index} landed on frame {position}")
                self._last = position
                if position < index:
                    continue
                if position > index:
                    raise VideoDecodeError(self.path, f"frame {index} is missing (the stream jumps to {position})")
                image = self._to_rgb.reformat(frame, format="rgb24").to_ndarray()
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

        self._reader = decord.VideoReader(self.path, ctx=decord.cpu(0), num_threads=self.num_threads)
        self.num_frames = len(self._reader)
        self.fps = float(self._reader.get_avg_fps())

    def _read_sorted(self, targets: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(self._reader.get_batch(targets.tolist()).asnumpy())

    def close(self) -> None:
        self._reader = None


def open_video(path: str, backend: str = "opencv", num_threads: int = 1) -> VideoReader:
    """Open `path` with the registered decoder `backend`; raises VideoDecodeError when it cannot be read."""
    return DECODERS.get(backend)(path, num_threads=num_threads)
