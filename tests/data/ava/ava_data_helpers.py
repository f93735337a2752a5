"""A tiny AVA-layout dataset made on the spot: two H.264 videos (64x48 and 48x64, 6 s at 30 fps), the frames
extracted from them with our decoder (PNG, lossless, and JPEG), AVA's CSV/pbtxt/pickle files, and pipelines."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterator, List

import cv2
import numpy as np

from paddlevideo_slowfast.data.ava.annotations import (AVABox, write_annotations, write_excluded, write_label_map,
                                                       write_proposals)
from paddlevideo_slowfast.data.decoders import open_video
from paddlevideo_slowfast.data.video_writer import write_video

SECONDS, FPS = 6, 30
VIDEOS = {"vidA": (48, 64, ".mp4"), "vid_B-2": (64, 48, ".mkv")}  # id -> (height, width, container)
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
NORM = {"mean": MEAN, "std": STD, "to_bgr": False}
SAMPLER = {"name": "SampleAVAFrames", "clip_len": 8, "frame_interval": 2}
TRAIN = {"sampler": SAMPLER, "decoder": {"name": "RawFrameDecode"},
         "transform": [{"RandomRescale": {"scale_range": "(40,48)"}}, {"RandomCrop_v2": {"size": 32}},
                       {"Flip": {"flip_ratio": 0.5}}, {"Normalize": NORM}, {"PackOutput": {"alpha": 4}}]}
TEST = {"sample": SAMPLER, "decoder": {"name": "RawFrameDecode"},
        "transform": [{"Rescale": {"scale_range": "(-1, 40)"}}, {"Normalize": NORM}, {"PackOutput": {"alpha": 4}}]}
DATASET_KEYS = dict(timestamp_start=0, timestamp_end=SECONDS, person_det_score_thr=0.5)


def frames_of(count: int, height: int, width: int, seed: int) -> Iterator[np.ndarray]:
    """Frames that all differ: a smooth random background, a bright square moving right, a dark bar moving down."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 255, (6, 6, 3), dtype=np.uint8), (width, height),
                      interpolation=cv2.INTER_CUBIC)
    for i in range(count):
        frame = base.copy()
        x = (i * 2) % (width - 10)
        frame[10:20, x:x + 10] = 250
        y = (i * 3) % (height - 4)
        frame[y:y + 4, :] //= 4
        yield frame


def rows() -> List[AVABox]:
    """Ground truth: vidA keyframes 1..5 s (two people at 2 s, one doing two actions), vid_B-2 at 1..4 s."""
    out = []
    for t in range(1, 6):
        out.append(AVABox("vidA", t, (0.1, 0.2, 0.5, 0.9), 12, 0))
    out.append(AVABox("vidA", 2, (0.1, 0.2, 0.5, 0.9), 80, 0))
    out.append(AVABox("vidA", 2, (0.6, 0.1, 0.95, 0.8), 17, 1))
    for t in range(1, 5):
        out.append(AVABox("vid_B-2", t, (0.2, 0.3, 0.7, 0.95), 14, 0))
    return out


def proposals() -> Dict[str, np.ndarray]:
    """Detector boxes: jittered ground truth with high scores, a low-score false positive; vidA,0004 only below
    the threshold; vidA,0005 absent (whole-frame fallback)."""
    out = {}
    for t in range(1, 4):
        out[f"vidA,{t:04d}"] = np.array([[0.11, 0.21, 0.49, 0.88, 0.98], [0.6, 0.1, 0.94, 0.79, 0.9],
                                         [0.0, 0.5, 0.2, 0.99, 0.3]])
    out["vidA,0004"] = np.array([[0.1, 0.2, 0.5, 0.9, 0.4], [0.5, 0.5, 0.6, 0.6, 0.2]])
    for t in range(1, 5):
        out[f"vid_B-2,{t:04d}"] = np.array([[0.2, 0.3, 0.7, 0.95, 0.99]], np.float32)
    return out


def make_ava(root: Path) -> Dict[str, Path]:
    """The whole tiny dataset under `root`; returns its paths."""
    paths = {"videos": root / "videos", "png": root / "frames_png", "jpg": root / "frames_jpg",
             "ann": root / "annotations"}
    for i, (video_id, (height, width, ext)) in enumerate(VIDEOS.items()):
        video = write_video(paths["videos"] / f"{video_id}{ext}", frames_of(SECONDS * FPS, height, width, i),
                            fps=FPS, gop=48)
        with open_video(str(video)) as reader:
            frames = reader.read(range(reader.num_frames))
        for kind, params in (("png", [cv2.IMWRITE_PNG_COMPRESSION, 1]), ("jpg", [cv2.IMWRITE_JPEG_QUALITY, 95])):
            folder = paths[kind] / video_id
            folder.mkdir(parents=True)
            for number, frame in enumerate(frames, start=1):
                cv2.imwrite(str(folder / f"img_{number:05d}.{kind}"), frame[..., ::-1], params)
    ann = paths["ann"]
    write_annotations(ann / "train.csv", rows())
    write_excluded(ann / "excluded.csv", [("vid_B-2", 4)])
    write_proposals(ann / "proposals.pkl", proposals())
    write_label_map(ann / "labels.pbtxt", {12: "stand", 14: "walk", 17: "carry/hold (an object)",
                                           80: "watch (a person)"})
    return paths


def dataset_kwargs(paths: Dict[str, Path], prefix: str, **extra) -> dict:
    """AVADataset keyword arguments over the tiny dataset, frames or videos under `paths[prefix]`."""
    ann = paths["ann"]
    kwargs = dict(file_path=str(ann / "train.csv"), exclude_file=str(ann / "excluded.csv"),
                  proposal_file=str(ann / "proposals.pkl"), label_file=str(ann / "labels.pbtxt"),
                  data_prefix=str(paths[prefix]), **DATASET_KEYS)
    kwargs.update(extra)
    return kwargs
