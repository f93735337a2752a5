"""Evaluation report files: per-class accuracy and confusion matrix as CSV and PNG, unscored videos as text."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import BinaryIO, Dict, List, Optional, Sequence, Union

import numpy as np

from ..errors import ConfigError
from .accuracy import per_class_accuracy

MAX_TICK_LABELS = 40    # beyond this many classes the PNG's axes carry no names (unreadable anyway)


def read_label_names(path: Union[str, Path]) -> List[str]:
    """Class names from a text file, one per line: `name`, `index name` or `name index` (K400 label lists)."""
    entries = {}
    lines = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    for number, line in enumerate(lines):
        head, _, tail = line.partition(" ")
        rest, _, last = line.rpartition(" ")
        if head.isdigit() and tail:
            entries[int(head)] = tail.strip()
        elif last.isdigit() and rest:
            entries[int(last)] = rest.strip()
        else:
            entries[number] = line
    if sorted(entries) != list(range(len(entries))):
        raise ConfigError("label names must cover indices 0..N-1 exactly once", file=str(path),
                          expected="one class per line")
    return [entries[i] for i in range(len(entries))]


def class_names(num_classes: int, names: Optional[Sequence[str]]) -> List[str]:
    """The given names, or `class_<i>` for classes without one."""
    names = list(names or [])
    return [names[i] if i < len(names) else f"class_{i}" for i in range(num_classes)]


def write_per_class_csv(path: Path, confusion: np.ndarray, names: Sequence[str]) -> None:
    videos, correct, accuracy = per_class_accuracy(confusion)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["class_id", "class_name", "videos", "correct", "accuracy"])
        for i, name in enumerate(names):
            writer.writerow([i, name, int(videos[i]), int(correct[i]),
                             "" if np.isnan(accuracy[i]) else f"{accuracy[i]:.6f}"])


def write_confusion_csv(path: Path, confusion: np.ndarray, names: Sequence[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["true \\ predicted", *names])
        for name, row in zip(names, confusion):
            writer.writerow([name, *(int(v) for v in row)])


def confusion_image(confusion: np.ndarray, names: Sequence[str], title: str = "") -> np.ndarray:
    """The confusion matrix PNG's picture as an RGB uint8 array (H, W, 3), for VisualDL."""
    import io

    import cv2

    buffer = io.BytesIO()
    write_confusion_png(buffer, confusion, names, title)
    return cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_COLOR)[..., ::-1].copy()


def write_confusion_png(path: Union[Path, BinaryIO], confusion: np.ndarray, names: Sequence[str],
                        title: str = "") -> None:
    """Row-normalised confusion matrix (each true class sums to 1) with counts in cells when small."""
    # an Agg canvas of our own: no pyplot, so no global backend switch and no display needed
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    num = len(names)
    rows = confusion.sum(axis=1, keepdims=True)
    normalised = confusion / np.maximum(rows, 1)
    size = min(4 + 0.45 * num, 40)
    fig = Figure(figsize=(size, size), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(normalised, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix (row-normalised)")
    if num <= MAX_TICK_LABELS:
        ax.set_xticks(range(num), labels=names, rotation=90)
        ax.set_yticks(range(num), labels=names)
        for i in range(num):
            for j in range(num):
                if confusion[i, j]:
                    ax.text(j, i, str(int(confusion[i, j])), ha="center", va="center", fontsize=7,
                            color="white" if normalised[i, j] > 0.5 else "black")
    fig.tight_layout()
    fig.savefig(path, format="png")


def write_report(folder: Union[str, Path], confusion: np.ndarray, names: Optional[Sequence[str]] = None,
                 unscored: Sequence[str] = (), title: str = "") -> Dict[str, Path]:
    """Write per_class_accuracy.csv, confusion_matrix.csv/.png (and unscored_videos.txt) into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = class_names(confusion.shape[0], names)
    paths = {"per_class_csv": folder / "per_class_accuracy.csv",
             "confusion_csv": folder / "confusion_matrix.csv",
             "confusion_png": folder / "confusion_matrix.png"}
    write_per_class_csv(paths["per_class_csv"], confusion, names)
    write_confusion_csv(paths["confusion_csv"], confusion, names)
    write_confusion_png(paths["confusion_png"], confusion, names, title)
    if unscored:
        paths["unscored"] = folder / "unscored_videos.txt"
        paths["unscored"].write_text("".join(f"{item}\n" for item in unscored), encoding="utf-8")
    return paths
