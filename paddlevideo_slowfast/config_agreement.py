"""Facts a SlowFast config states in several keys (alpha, frame counts, crop sizes) must agree when it loads.

PaddleVideo's layout repeats alpha in the backbone, every PackOutput and INFERENCE, and the clip size in the head,
the samplers and the crops. A disagreement used to surface as a concat shape error inside the fusion; here it is
refused at load with one line naming both keys and the files that set them.
"""
from __future__ import annotations

from typing import Any, List, Mapping, Optional, Tuple

from .config import get, select
from .errors import ConfigError

MODES = ("train", "valid", "test")
SAMPLER_FRAMES = "PIPELINE.{mode}.decode_sampler.num_frames"
PACK_ALPHA = "PIPELINE.{mode}.transform.PackOutput.alpha"
CROP = "PIPELINE.{mode}.transform.MultiCrop.target_size"
SCALE_MIN = "PIPELINE.{mode}.transform.JitterScale.min_size"
SCALE_MAX = "PIPELINE.{mode}.transform.JitterScale.max_size"
# AVA's SampleAVAFrames: clip_len frames (the Fast pathway's) under `sampler`; PaddleVideo's ava.yaml spells its test
# pipeline's `sample`
AVA_CLIPS = ("PIPELINE.{mode}.sampler.clip_len", "PIPELINE.{mode}.sample.clip_len")

# one fact per row, the keys that state it: every present key must equal the first present one
SAME = (
    ("alpha", ("MODEL.backbone.alpha", *(PACK_ALPHA.format(mode=m) for m in MODES), "INFERENCE.alpha")),
    ("clip length", ("MODEL.head.num_frames", *(SAMPLER_FRAMES.format(mode=m) for m in MODES),
                    *(clip.format(mode=m) for clip in AVA_CLIPS for m in MODES), "INFERENCE.num_frames")),
    # test crops may be larger (the head then scores a grid of its fixed window): FIXED_POOL_AT_LEAST.
    # INFERENCE.target_size must equal the test crop only in an export: `export` checks that (infer_cfg.py)
    ("training crop", ("MODEL.head.crop_size", CROP.format(mode="train"), CROP.format(mode="valid"))),
    # the metric groups a video's scores by these counts; the test dataset makes that many views of it
    ("test clip count", ("DATASET.test.num_ensemble_views", "METRIC.num_ensemble_views")),
    ("test crop count", ("DATASET.test.num_spatial_crops", "METRIC.num_spatial_crops")),
)
# (key, the key it may not be smaller than, why); per pipeline mode where the keys say {mode}
AT_LEAST = (
    (SCALE_MAX, SCALE_MIN, "JitterScale draws the short side from [min_size, max_size]"),
    (SCALE_MIN, CROP, "MultiCrop cuts its square from frames whose short side JitterScale set"),
)
FIXED_POOL_WHY = ("MODEL.head.pool 'fixed' pools a window of the training crop; a smaller test crop leaves no "
                  "room for it (or set MODEL.head.pool: adaptive)")
FIXED_POOL_AT_LEAST = tuple((key, "MODEL.head.crop_size", FIXED_POOL_WHY)
                            for key in (CROP.format(mode="test"), "INFERENCE.target_size"))
# (frames key, alpha key): the Slow pathway keeps T/alpha frames and the fusion concatenates T/alpha Fast steps
DIVISIBLE = (("MODEL.head.num_frames", "MODEL.backbone.alpha"), (SAMPLER_FRAMES, PACK_ALPHA),
             *((clip, alpha) for clip in AVA_CLIPS for alpha in (PACK_ALPHA, "MODEL.backbone.alpha")))

Found = Tuple[str, Any, Optional[str]]


def _where(found: Found) -> str:
    key, value, file = found
    return f"{key} = {value!r}" + (f" ({file})" if file else "")


def _present(cfg: Mapping[str, Any], pattern: str) -> List[Found]:
    return [f for f in select(cfg, pattern) if f[1] is not None]


def _per_mode(pattern: str) -> List[str]:
    return [pattern.format(mode=m) for m in MODES] if "{mode}" in pattern else [pattern]


def check_same(cfg: Mapping[str, Any]) -> None:
    """Every key of a SAME row equals the first of them the config sets."""
    for fact, keys in SAME:
        stated = [f for key in keys for f in _present(cfg, key)]
        for other in stated[1:]:
            if other[1] != stated[0][1]:
                raise ConfigError(f"{_where(other)} disagrees with {_where(stated[0])}", file=other[2], key=other[0],
                                  expected=f"{stated[0][1]!r} as {stated[0][0]} says (one {fact} for the whole config)")


def check_at_least(cfg: Mapping[str, Any]) -> None:
    """Sizes that bound each other: scale range, crop within the scaled frames, test crop vs the fixed pool."""
    rows = [(big, small, why) for big_p, small_p, why in AT_LEAST
            for big, small in zip(_per_mode(big_p), _per_mode(small_p))]
    head = get(cfg, "MODEL.head", None)
    head = head if isinstance(head, Mapping) else {}
    if head.get("pool", "fixed") == "fixed" and not head.get("multigrid_short", False):
        rows.extend(FIXED_POOL_AT_LEAST)
    for big_key, small_key, why in rows:
        for big in _present(cfg, big_key):
            for small in _present(cfg, small_key):
                if big[1] < small[1]:
                    raise ConfigError(f"{_where(big)} is smaller than {_where(small)}", file=big[2], key=big[0],
                                      expected=f"at least {small[1]!r}: {why}")


def check_divisible(cfg: Mapping[str, Any]) -> None:
    """Clip frames are a multiple of alpha, or the Slow and Fast time axes no longer line up in the fusion."""
    for frames_p, alpha_p in DIVISIBLE:
        frames_keys, alpha_keys = _per_mode(frames_p), _per_mode(alpha_p)
        if len(alpha_keys) == 1:  # one alpha (the backbone's) for the frames of every mode
            alpha_keys = alpha_keys * len(frames_keys)
        for frames_key, alpha_key in zip(frames_keys, alpha_keys):
            for frames in _present(cfg, frames_key):
                for alpha in _present(cfg, alpha_key):
                    if alpha[1] and frames[1] % alpha[1]:
                        raise ConfigError(f"{_where(frames)} is not a multiple of {_where(alpha)}", file=frames[2],
                                          key=frames[0], expected=f"a multiple of {alpha[1]}: the Slow pathway keeps "
                                          "every alpha-th frame and the fusion joins T/alpha Fast steps to it")


AVA_CLASSES = 81  # the default of both BBoxHeadAVA.num_classes and AVADataset.num_classes (AVA's ids 1..80)
HEAD_CLASSES = "MODEL.head.bbox_head.num_classes"


def check_detection_classes(cfg: Mapping[str, Any]) -> None:
    """An AVA dataset's multi-hot label width equals the detector head's class count (both default to 81)."""
    head = (_present(cfg, HEAD_CLASSES) or [(f"{HEAD_CLASSES} (default)", AVA_CLASSES, None)])[0]
    for mode in MODES:
        if get(cfg, f"DATASET.{mode}.format", None) != "AVADataset" or get(cfg, "MODEL.framework", None) != "FastRCNN":
            continue
        if get(cfg, f"DATASET.{mode}.custom_classes", None) is not None:
            continue  # the dataset derives its width from the custom classes and checks num_classes itself
        data = (_present(cfg, f"DATASET.{mode}.num_classes")
                or [(f"DATASET.{mode}.num_classes (default)", AVA_CLASSES, None)])[0]
        if data[1] != head[1]:
            bad = data if data[2] is not None or head[2] is None else head
            raise ConfigError(f"{_where(data)} disagrees with {_where(head)}", file=bad[2],
                              key=f"DATASET.{mode}.num_classes" if bad is data else HEAD_CLASSES,
                              expected="the same class count: the dataset's label vectors feed the head's sigmoids")


def check_agreement(cfg: Mapping[str, Any]) -> None:
    """Refuse a config whose restated facts disagree (names both keys and their files)."""
    check_same(cfg)
    check_at_least(cfg)
    check_divisible(cfg)
    check_detection_classes(cfg)
