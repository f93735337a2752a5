"""Turn a folder-per-class video tree `ROOT/<class>/<video>` into PaddleVideo list files for fine-tuning.

Writes `train.list` and `val.list` (`relative/path.mp4 label` lines, paths relative to ROOT, so the config's
`data_prefix` is ROOT) and `label_names.txt` (classes sorted by folder name; line i is class i). The split is
stratified: each class is split on its own, by a generator seeded from (seed, class name), so the same seed
gives the same lists and adding a class leaves the other classes' split unchanged.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ..errors import ConfigError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv")


@dataclass
class ListSummary:
    """What `make_lists` wrote: class names in label order, per-class (train, val) counts, the three files."""

    classes: List[str]
    counts: Dict[str, Tuple[int, int]] = field(default_factory=dict)
    train_list: Optional[Path] = None
    val_list: Optional[Path] = None
    label_file: Optional[Path] = None

    @property
    def num_train(self) -> int:
        return sum(train for train, _ in self.counts.values())

    @property
    def num_val(self) -> int:
        return sum(val for _, val in self.counts.values())


def _normalise_extensions(extensions: Iterable[str]) -> Tuple[str, ...]:
    return tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)


def find_class_videos(root: Path, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> Dict[str, List[str]]:
    """Class name -> sorted video paths relative to `root` (`/`-separated), for every class folder of `root`."""
    if not root.is_dir():
        raise ConfigError("the video root is not a folder", file=str(root), expected="ROOT/<class>/<video> folders")
    exts = _normalise_extensions(extensions)
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise ConfigError("no class folders in the video root", file=str(root),
                          expected="one sub-folder per class, holding that class's videos")
    videos: Dict[str, List[str]] = {}
    for class_dir in class_dirs:
        found = []
        # followlinks: class folders assembled from symlinks to videos elsewhere are common
        for folder, dirs, files in os.walk(class_dir, followlinks=True):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if name.startswith(".") or not name.lower().endswith(exts):
                    continue
                relative = Path(folder, name).relative_to(root).as_posix()
                if "\n" in relative or relative != relative.strip():
                    raise ConfigError("a video path a list line cannot hold (newline or edge whitespace)",
                                      file=str(Path(folder, name)))
                found.append(relative)
        if not found:
            raise ConfigError(f"class folder '{class_dir.name}' has no videos", file=str(class_dir),
                              expected=f"files ending in {', '.join(exts)} (see --extensions)")
        videos[class_dir.name] = sorted(found)
    return videos


def split_class(videos: Sequence[str], val_split: float, seed: int, class_name: str) -> Tuple[List[str], List[str]]:
    """(train, val) of one class: round(n * val_split) videos to val, at least one when n >= 2, never all."""
    n = len(videos)
    n_val = int(round(n * val_split)) if val_split > 0 else 0
    if val_split > 0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    elif n < 2:
        n_val = 0
    order = list(videos)
    random.Random(f"{seed}/{class_name}").shuffle(order)
    val = set(order[:n_val])
    return [v for v in videos if v not in val], [v for v in videos if v in val]


def _label_lines(classes: Sequence[str]) -> List[str]:
    # a name like "3 point shot" would be read as `index name`; write every line as `i name` then
    if any(name.split(" ", 1)[0].isdigit() and " " in name for name in classes):
        return [f"{i} {name}" for i, name in enumerate(classes)]
    return list(classes)


def make_lists(root: os.PathLike, out: os.PathLike, *, val_split: float = 0.2, seed: int = 0,
               extensions: Sequence[str] = VIDEO_EXTENSIONS) -> ListSummary:
    """Write train.list, val.list and label_names.txt for the class folders of `root` into `out`."""
    if not 0.0 <= val_split < 1.0:
        raise ConfigError(f"val split {val_split} is outside [0, 1)", key="--val-split",
                          expected="a fraction such as 0.2")
    root, out = Path(root), Path(out)
    videos = find_class_videos(root, extensions)
    classes = list(videos)
    summary = ListSummary(classes=classes)
    train_lines, val_lines = [], []
    for label, name in enumerate(classes):
        train, val = split_class(videos[name], val_split, seed, name)
        train_lines += [f"{path} {label}" for path in train]
        val_lines += [f"{path} {label}" for path in val]
        summary.counts[name] = (len(train), len(val))
    out.mkdir(parents=True, exist_ok=True)
    summary.train_list, summary.val_list, summary.label_file = out / "train.list", out / "val.list", \
        out / "label_names.txt"
    for path, lines in ((summary.train_list, train_lines), (summary.val_list, val_lines),
                        (summary.label_file, _label_lines(classes))):
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return summary
