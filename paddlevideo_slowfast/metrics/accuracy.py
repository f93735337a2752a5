"""Classification numbers on plain numpy arrays: softmax, top-k hits, confusion matrix, per-class accuracy."""
from __future__ import annotations

from typing import Tuple

import numpy as np


def softmax(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax in float64."""
    shifted = np.asarray(scores, dtype=np.float64)
    shifted = shifted - shifted.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=axis, keepdims=True)


def is_probability(scores: np.ndarray, tol: float = 1e-4) -> bool:
    """True when every row along the last axis is non-negative and sums to 1 (already a softmax)."""
    scores = np.asarray(scores, dtype=np.float64)
    return bool(scores.size) and bool((scores >= 0).all()) and bool(np.allclose(scores.sum(-1), 1.0, atol=tol))


def topk_hits(scores: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """[N] bool: whether each label is among the k best scores of its row [N, C] (ties: lower class first)."""
    k = min(int(k), scores.shape[1])
    best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return (best == np.asarray(labels).reshape(-1, 1)).any(axis=1)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """[C, C] counts: row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, dtype=np.int64), np.asarray(predictions, dtype=np.int64)), 1)
    return matrix


def per_class_accuracy(confusion: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(videos, correct, accuracy) per true class from a confusion matrix; accuracy is NaN for absent classes."""
    videos = confusion.sum(axis=1)
    correct = np.diag(confusion).copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(videos > 0, correct / np.maximum(videos, 1), np.nan)
    return videos, correct, accuracy
