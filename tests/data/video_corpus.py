"""Test videos made on the spot: good H.264 files whose frames all differ, and a corpus of broken ones."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterator

import numpy as np

from paddlevideo_slowfast.data.video_writer import write_video

# tiny train and test pipelines (8 frames, 56 px crops, alpha 4) for dataset and loader tests
NORM = {"mean": [0.45] * 3, "std": [0.225] * 3, "tensor_shape": [1, 1, 1, 3]}
TRAIN = {"decode_sampler": {"name": "DecodeSampler", "num_frames": 8, "sampling_rate": 2},
         "transform": [{"JitterScale": {"min_size": 64, "max_size": 80}}, {"MultiCrop": {"target_size": 56}},
                       {"RandomFlip": None}, {"Image2Array": {"transpose": False}}, {"Normalization": NORM},
                       {"PackOutput": {"alpha": 4}}]}
TEST = {"decode_sampler": {"name": "DecodeSampler", "num_frames": 8, "sampling_rate": 2, "test_mode": True},
        "transform": [{"JitterScale": {"min_size": 64, "max_size": 64}},
                      {"MultiCrop": {"target_size": 56, "test_mode": True}}, {"Image2Array": {"transpose": False}},
                      {"Normalization": NORM}, {"PackOutput": {"alpha": 4}}]}

# name -> what must happen when a backend reads it: "fail" (VideoDecodeError), or "either" (error or exact frames)
BROKEN = {
    "missing": "fail",           # no such path
    "empty": "fail",             # 0 bytes
    "text": "fail",              # a text file renamed .mp4
    "truncated_index_at_end": "fail",    # cut in half: the moov index (written last) is gone
    "truncated_faststart": "fail",       # index first, media cut at 60%: opens, reports every frame, delivers 60%
    "overwritten_header": "fail",        # first 64 bytes random
    "overwritten_media": "either",       # a third of the media bytes random: errors, or damaged but whole frames
    "no_frames": "fail",                 # a valid container with a video stream and no frame
    "av1": "either",                     # a codec OpenCV's and decord's FFmpeg builds cannot decode (PyAV can)
}


BACKENDS = ("opencv", "pyav", "decord")


def distinct_frames(count: int, height: int = 64, width: int = 96, seed: int = 0) -> Iterator[np.ndarray]:
    """Frames that all differ: static random blocks, an inverted bar moving 3 px and a dark line moving 2 px."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    for i in range(count):
        frame = base.copy()
        x = (i * 3) % (width - 8)
        frame[:, x:x + 8] = 255 - frame[:, x:x + 8]
        frame[(i * 2) % height, :] = 0
        yield frame


def make_good(path: Path, count: int = 64, height: int = 64, width: int = 96, fps: int = 30, gop: int = 16,
              faststart: bool = False, seed: int = 0) -> Path:
    """An H.264 MP4 with a keyframe every `gop` frames (so reads must seek)."""
    return write_video(path, distinct_frames(count, height, width, seed), fps=fps, gop=gop, faststart=faststart)


def make_corpus(folder: Path, seed: int = 0) -> Dict[str, Path]:
    """Every BROKEN entry as a file in `folder` (av1 left out when this PyAV cannot encode it)."""
    import av

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    plain = make_good(folder / "_source.mp4").read_bytes()
    faststart = make_good(folder / "_source_faststart.mp4", faststart=True).read_bytes()
    out = {name: folder / f"{name}.mp4" for name in BROKEN}
    out["empty"].write_bytes(b"")
    out["text"].write_text("this is not a video\n" * 50)
    out["truncated_index_at_end"].write_bytes(plain[: len(plain) // 2])
    out["truncated_faststart"].write_bytes(faststart[: int(len(faststart) * 0.6)])
    header = bytearray(plain)
    header[:64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
    out["overwritten_header"].write_bytes(bytes(header))
    media = bytearray(faststart)
    start = faststart.find(b"mdat")
    third = (len(faststart) - start) // 3
    media[start + third:start + 2 * third] = rng.integers(0, 256, third, dtype=np.uint8).tobytes()
    out["overwritten_media"].write_bytes(bytes(media))
    with av.open(str(out["no_frames"]), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()
    if "libsvtav1" in av.codecs_available:
        write_video(out["av1"], distinct_frames(16), codec="libsvtav1", crf=None, options={"preset": "12"})
    else:
        del out["av1"]
    return out


def make_cut(path: Path, source: Path, start: int = 45, keyframe: int = 30, stop: int = 150) -> Path:
    """A stream-copied cut as `ffmpeg -ss -c copy` makes it: the packets of frames keyframe..stop-1 of `source`,
    timestamps shifted so that frame `start` is at 0. The MP4 muxer writes an edit list that hides the
    `start - keyframe` pre-roll frames: the container declares stop - keyframe frames, stop - start decode."""
    import av

    with av.open(str(source)) as inp, av.open(str(path), "w") as out:
        stream = inp.streams.video[0]
        copy = out.add_stream_from_template(stream)
        step = int(round(1 / (stream.average_rate * stream.time_base)))
        packets = [p for p in inp.demux(stream) if p.size and p.pts is not None]
        base = packets[0].pts
        for packet in packets:
            if keyframe * step <= packet.pts - base < stop * step:
                packet.pts -= base + start * step
                packet.dts -= base + start * step
                packet.stream = copy
                out.mux(packet)
    return path


def make_rotated(path: Path, degrees: int, count: int = 12) -> Path:
    """`distinct_frames(count)` stored upright with a display matrix saying: rotate `degrees` counter-clockwise."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.set_display_rotation(degrees)
        for frame in distinct_frames(count):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def reference_frames(path: Path) -> np.ndarray:
    """Every frame by a plain sequential PyAV decode (independent of the readers under test)."""
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
