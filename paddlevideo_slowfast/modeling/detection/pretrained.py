"""A recognition checkpoint as the detector's starting point: its backbone in, its classifier out.

PaddleVideo's AVA recipe starts from the Kinetics SlowFast 8x8, whose Fast->Slow fusion convs have a temporal
kernel of 7 where the detector's have 5: the centre taps are taken (the padding keeps them aligned in time).
"""
from __future__ import annotations

import logging
from typing import Dict, List, Mapping, Tuple

import numpy as np

logger = logging.getLogger(__name__)

DETECTION_PREFIX = "roi_head."
CLASSIFIER_PREFIX = "roi_head.bbox_head.fc_cls."
RECOGNITION_HEAD_PREFIX = "head."
FUSION_SUFFIX = "_fuse._conv_f2s.weight"


def is_detection_checkpoint(given: Mapping[str, np.ndarray]) -> bool:
    return any(key.startswith(DETECTION_PREFIX) for key in given)


def centre_taps(weight: np.ndarray, taps: int) -> np.ndarray:
    """The middle `taps` of a conv weight's temporal axis (axis 2 of [out, in, t, h, w])."""
    start = (weight.shape[2] - taps) // 2
    return weight[:, :, start:start + taps]


def adapt_recognition_checkpoint(given: Mapping[str, np.ndarray], own: Mapping[str, Tuple[int, ...]],
                                 source: str = "") -> Tuple[Dict[str, np.ndarray], List[str]]:
    """(weights for the detector, its keys left at their fresh init) from a recognizer's `given` weights.

    Drops the classifier (`head.*`), keeps `roi_head.*` fresh, and fits longer fusion kernels; any other
    difference is left for the strict loader to report. A detection checkpoint passes through, its classifier
    left fresh when only its class count differs (fine-tuning to another label map).
    """
    if is_detection_checkpoint(given):
        return _other_class_count(given, own, source)
    dropped = sorted(k for k in given if k.startswith(RECOGNITION_HEAD_PREFIX))
    adapted = {k: v for k, v in given.items() if not k.startswith(RECOGNITION_HEAD_PREFIX)}
    for key, array in list(adapted.items()):
        shape = own.get(key)
        if not key.endswith(FUSION_SUFFIX) or shape is None or tuple(array.shape) == tuple(shape):
            continue
        longer = array.ndim == 5 and array.shape[:2] == tuple(shape[:2]) and array.shape[3:] == tuple(shape[3:])
        if longer and array.shape[2] > shape[2] and (array.shape[2] - shape[2]) % 2 == 0:
            adapted[key] = centre_taps(array, shape[2])
            logger.info("%s: %s temporal kernel %d -> the centre %d taps", source, key, array.shape[2], shape[2])
    fresh = [k for k in own if k.startswith(DETECTION_PREFIX)]
    logger.info("%s: a recognition checkpoint initialises the backbone; dropped %d classifier keys (%s), "
                "kept fresh: %s", source, len(dropped), ", ".join(dropped) or "none", ", ".join(fresh))
    return adapted, fresh


def _other_class_count(given: Mapping[str, np.ndarray], own: Mapping[str, Tuple[int, ...]],
                       source: str) -> Tuple[Dict[str, np.ndarray], List[str]]:
    """A detection checkpoint, without its classifier when that differs from the model's in the class count only."""
    classifier = [k for k in own if k.startswith(CLASSIFIER_PREFIX)]
    differs = [k for k in classifier if k in given and tuple(given[k].shape) != tuple(own[k])]
    only_count = all(tuple(given[k].shape[:-1]) == tuple(own[k][:-1]) for k in differs)
    if not differs or not only_count or len(differs) != len(classifier):
        return dict(given), []
    logger.info("%s: the classifier has %d classes, the model %d: %s keep their fresh init", source,
                given[differs[0]].shape[-1], own[differs[0]][-1], ", ".join(differs))
    return {k: v for k, v in given.items() if k not in differs}, differs
