"""Write RGB frames to an H.264 MP4 with PyAV (its wheel bundles libx264, so no ffmpeg binary is needed).

OpenCV's wheel cannot write H.264 (only mp4v, MJPG, XVID), and real datasets are H.264, so generated videos go
through PyAV. Output is byte-for-byte deterministic: one encoder thread, and x264's macroblock-tree rate control
off (measured here: with it on, the same frames encode to different bytes in about a third of 64-px videos).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, Optional, Union

import numpy as np


def write_video(path: Union[str, Path], frames: Iterable[np.ndarray], *, fps: int = 30, codec: str = "libx264",
                crf: Optional[int] = 20, bit_rate: Optional[int] = None, gop: Optional[int] = None,
                preset: str = "veryfast", faststart: bool = False, threads: int = 1,
                options: Optional[Dict[str, str]] = None) -> Path:
    """Encode uint8 RGB frames (H, W, 3; even H and W) to `path`; `bit_rate` (bits/s) replaces `crf` when given.

    `gop` fixes the keyframe interval (no scene-cut keyframes); `faststart` puts the index at the front.
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    container_options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), mode="w", options=container_options) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.pix_fmt = "yuv420p"
        codec_options: Dict[str, str] = {"threads": str(threads)}
        if codec.startswith("libx264"):
            codec_options.update({"preset": preset, "mbtree": "0"})
        if bit_rate:
            stream.codec_context.bit_rate = int(bit_rate)
        elif crf is not None and codec.startswith("libx26"):
            codec_options["crf"] = str(crf)
        if gop:
            stream.codec_context.gop_size = int(gop)
            if codec.startswith("libx264"):
                codec_options.update({"keyint_min": str(gop), "sc_threshold": "0"})
        codec_options.update(options or {})
        stream.options = codec_options
        stream.codec_context.thread_count = threads
        started = False
        for frame in frames:
            if not started:
                stream.height, stream.width = frame.shape[:2]
                started = True
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        if not started:
            raise ValueError(f"no frames to write to {path}")
        for packet in stream.encode():
            container.mux(packet)
    return path

