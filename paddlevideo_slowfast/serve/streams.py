"""Live sources (rtsp://, http://, udp://, ... or a /dev/videoN camera) cut into windows of decoded frames.

`LiveSource.windows(seconds)` opens the source with PyAV (FFmpeg's network protocols, with open and read
timeouts so a silent source is noticed), decodes RGB frames and yields each window as soon as its last frame
arrives. When the source drops (an error, a read timeout, the end of the stream) it says so, waits, and opens it
again, the waits doubling from `backoff[0]` to `backoff[1]` seconds while it stays away; the window being filled
when it dropped is discarded, and window times go on from the last window given, so they never go back.
`live_predictions` runs a Predictor on each window: what `paddlevideo predict --video URL --windows S` prints.
"""
from __future__ import annotations

import re
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Tuple

import numpy as np

LIVE_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt", "rtp")
_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
_CAMERA = re.compile(r"^/dev/video\d+$")


def is_live(source: str) -> bool:
    """True for a URL of a network protocol FFmpeg reads live, or a V4L2 camera device."""
    match = _URL.match(str(source))
    return bool(match and match.group(1).lower() in LIVE_SCHEMES) or bool(_CAMERA.match(str(source)))


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class LiveWindow:
    """The frames of one window: seconds [start, end) since the first frame of the source."""

    start: float
    end: float
    frames: np.ndarray   # (n, H, W, 3) RGB uint8
    fps: float


class LiveSource:
    """A live source read window by window, reopened with backoff when it drops.

    open_timeout: seconds to wait for the source to answer and show a video stream; read_timeout: seconds
    without data after which it counts as dropped. `stop` (an Event) ends `windows` at the next frame or wait.
    """

    def __init__(self, url: str, *, open_timeout: float = 5.0, read_timeout: float = 2.0,
                 backoff: Tuple[float, float] = (0.5, 8.0), log: Callable[[str], None] = _stderr,
                 stop: Optional[threading.Event] = None):
        self.url, self.open_timeout, self.read_timeout = str(url), float(open_timeout), float(read_timeout)
        self.backoff, self.log = backoff, log
        self.stop = stop or threading.Event()
        self.reconnects = 0
        self.connected = False

    def _open(self):
        import av

        options = {}
        fmt = None
        if _CAMERA.match(self.url):
            fmt = "v4l2"
        elif self.url.lower().startswith("rtsp"):
            options["rtsp_transport"] = "tcp"
        container = av.open(self.url, format=fmt, options=options, timeout=(self.open_timeout, self.read_timeout))
        if not container.streams.video:
            container.close()
            raise ValueError("no video stream")
        return container

    def _sessions(self) -> Iterator[Iterator[Tuple[float, np.ndarray, float]]]:
        """One iterator of (seconds, frame, fps) per connection, reconnecting with backoff in between."""
        wait = self.backoff[0]
        first = True
        self.log(f"stream {self.url}: connecting")
        while not self.stop.is_set():
            try:
                container = self._open()
            except Exception as exc:  # noqa: BLE001 - FFmpeg errors, timeouts, refused connections alike
                self.connected = False
                self.log(f"stream {self.url}: cannot open ({_reason(exc)}); retrying in {wait:.1f} s")
                if self.stop.wait(wait):
                    return
                wait = min(wait * 2, self.backoff[1])
                continue
            if not first:
                self.reconnects += 1
                self.log(f"stream {self.url}: reconnected")
            first, wait = False, self.backoff[0]
            self.connected = True
            try:
                yield self._frames(container)
            finally:
                container.close()
                self.connected = False
            if self.stop.is_set():
                return
            self.log(f"stream {self.url}: dropped; reconnecting in {wait:.1f} s")
            if self.stop.wait(wait):
                return

    def _frames(self, container) -> Iterator[Tuple[float, np.ndarray, float]]:
        from av.video.reformatter import VideoReformatter

        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        to_rgb = VideoReformatter()
        first_time: Optional[float] = None
        count = 0
        try:
            for frame in container.decode(stream):
                if self.stop.is_set():
                    return
                seconds = frame.time if frame.time is not None else (count / fps if fps else None)
                if seconds is None:
                    continue
                first_time = seconds if first_time is None else first_time
                count += 1
                yield seconds - first_time, to_rgb.reformat(frame, format="rgb24").to_ndarray(), fps
        except Exception as exc:  # noqa: BLE001 - a read timeout or a broken stream ends this connection
            self.log(f"stream {self.url}: {_reason(exc)}")

    def windows(self, seconds: float) -> Iterator[LiveWindow]:
        """Consecutive `seconds`-long windows of frames, each yielded when a frame past its end arrives."""
        if not seconds > 0:
            raise ValueError(f"window length {seconds} is not positive")
        offset = 0.0  # where the next window starts, in seconds since the first frame of the source
        for session in self._sessions():
            frames: List[np.ndarray] = []
            begin = offset
            fps = 0.0
            for t, frame, fps in session:
                at = offset + t
                while at >= begin + seconds:
                    if frames:
                        yield LiveWindow(round(begin, 3), round(begin + seconds, 3), np.stack(frames),
                                         fps or len(frames) / seconds)
                        frames = []
                    begin += seconds
                frames.append(frame)
            if frames:
                self.log(f"stream {self.url}: dropped {len(frames)} frames of the unfinished window "
                         f"{begin:.2f}-{begin + seconds:.2f} s")
            offset = begin


def _reason(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:200]


def live_predictions(predictor, url: str, seconds: float, top_k: int = 5,
                     source: Optional[LiveSource] = None) -> Iterator:
    """One Prediction per window of a live source, as each window closes (`predictor`: a deploy Predictor)."""
    source = source or LiveSource(url)
    for window in source.windows(seconds):
        slow, fast = predictor.frame_clips(window.frames, window.fps)
        yield predictor.prediction(url, predictor.predict_clips(slow, fast), top_k, start=window.start,
                                   end=window.end)
