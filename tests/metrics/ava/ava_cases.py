"""Shared by the AVA evaluation tests: hand-computed edge cases, random AVA-like ground truth and detections, and
AVA's files written by hand in the layout AVA ships."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Tuple

import numpy as np

from paddlevideo_slowfast.metrics.ava import BoxTable

LABELS = {1: "stand", 2: "sit", 3: "walk"}
FULL = (0.0, 0.0, 1.0, 1.0)


def table(rows):
    """rows: (video, timestamp, box, action) or (video, timestamp, box, action, score)."""
    rows = list(rows)
    return BoxTable.build([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows],
                          [r[4] if len(r) > 4 else 1.0 for r in rows])


# (name, ground truth rows, detection rows, excluded keyframes, expected AP per class; None = no AP)
CASES = [
    ("perfect", [("v", 902, FULL, 1)], [("v", 902, FULL, 1, 0.9)], (), {1: 1.0}),
    # one detection over two ground-truth boxes of its class (IoU 0.9 and 0.889): it takes one, the other is missed
    ("one detection, two boxes", [("v", 902, FULL, 1), ("v", 902, (0.0, 0.0, 1.0, 0.8), 1)],
     [("v", 902, (0.0, 0.0, 1.0, 0.9), 1, 0.9)], (), {1: 0.5}),
    # duplicates: the first is the true positive, the second a false positive ranked above the other frame's hit
    ("duplicates", [("v", 902, FULL, 1), ("v", 903, FULL, 1)],
     [("v", 902, FULL, 1, 0.9), ("v", 902, FULL, 1, 0.8), ("v", 903, FULL, 1, 0.7)], (), {1: 0.5 + 0.5 * 2 / 3}),
    # no fallback: the second detection's best box is taken, so it is a false positive although the other box
    # (IoU 0.84) is free
    ("no second-best box", [("v", 902, FULL, 1), ("v", 902, (0.0, 0.0, 1.0, 0.8), 1)],
     [("v", 902, FULL, 1, 0.9), ("v", 902, (0.0, 0.0, 1.0, 0.95), 1, 0.8)], (), {1: 0.5}),
    # an excluded keyframe: its ground truth and its (high-scored, wrong) detection both leave
    ("excluded", [("v", 902, FULL, 1), ("v", 903, FULL, 1)],
     [("v", 903, (0.0, 0.0, 0.1, 0.1), 1, 0.95), ("v", 902, FULL, 1, 0.9)], [("v", 903)], {1: 1.0}),
    ("not excluded", [("v", 902, FULL, 1), ("v", 903, FULL, 1)],
     [("v", 903, (0.0, 0.0, 0.1, 0.1), 1, 0.95), ("v", 902, FULL, 1, 0.9)], (), {1: 0.25}),
    # class 3 has no ground truth: no AP, not in the mean; class 2 has ground truth and no detection: AP 0
    ("class without ground truth", [("v", 902, FULL, 1), ("v", 902, FULL, 2)],
     [("v", 902, FULL, 1, 0.9), ("v", 902, FULL, 3, 0.8)], (), {1: 1.0, 2: 0.0, 3: None}),
    # a keyframe with no detection at all (no proposal above the threshold): its ground truth lowers recall
    ("missed keyframe", [("v", 902, FULL, 1), ("v", 903, FULL, 1)], [("v", 902, FULL, 1, 0.9)], (), {1: 0.5}),
    # detections at a keyframe without ground truth are false positives
    ("keyframe without ground truth", [("v", 902, FULL, 1)],
     [("w", 902, FULL, 1, 0.9), ("v", 902, FULL, 1, 0.8)], (), {1: 0.5}),
    # IoU exactly 0.5 matches, 0.375 does not
    ("IoU 0.5", [("v", 902, (0.0, 0.0, 0.5, 1.0), 1)], [("v", 902, FULL, 1, 0.9)], (), {1: 1.0}),
    ("IoU 0.375", [("v", 902, (0.0, 0.0, 0.375, 1.0), 1)], [("v", 902, FULL, 1, 0.9)], (), {1: 0.0}),
    # one person box with two actions is one instance of each class
    ("two actions", [("v", 902, FULL, 1), ("v", 902, FULL, 2)], [("v", 902, FULL, 1, 0.9)], (), {1: 1.0, 2: 0.0}),
    # classes outside the label map count nowhere; a zero-area detection is dropped
    ("outside the map, empty box", [("v", 902, FULL, 1), ("v", 902, FULL, 9)],
     [("v", 902, FULL, 9, 0.99), ("v", 902, (0.5, 0.5, 0.5, 0.9), 1, 0.95), ("v", 902, FULL, 1, 0.9)], (),
     {1: 1.0}),
]


@dataclass
class RandomAVA:
    """Ground-truth rows (video, timestamp, x1, y1, x2, y2, action, person), detection table, exclusions, labels."""

    labels: Dict[int, str]
    gt_rows: List[tuple]
    detections: BoxTable
    excluded: List[Tuple[str, int]]


def random_ava(seed: int, videos=("-5KQ66BBWC4", "vid_B-2", "c3"), stamps=range(902, 918)) -> RandomAVA:
    """1-3 people per keyframe (some keyframes none), 1-3 actions each from ids 1-7; label map 1, 2, 3, 5, 7, 8
    (4 and 6 outside it, 8 never in ground truth); detections are jittered people plus strays, several classes
    each, a few at keyframes without ground truth, one empty and one inverted box; all scores distinct at 6
    decimals so no tie order can matter."""
    rng = np.random.default_rng(seed)
    labels = {i: f"action {i}" for i in (1, 2, 3, 5, 7, 8)}
    gt_rows, people = [], []
    for video in videos:
        for stamp in stamps:
            for person in range(int(rng.integers(0, 4))):
                x1, y1 = rng.uniform(0, 0.6, 2)
                w, h = rng.uniform(0.15, 0.4, 2)
                box = tuple(round(float(v), 3) for v in (x1, y1, min(x1 + w, 1.0), min(y1 + h, 1.0)))
                actions = [int(a) for a in rng.choice(np.arange(1, 8), size=int(rng.integers(1, 4)), replace=False)]
                people.append((video, stamp, box, actions))
                gt_rows += [(video, stamp, *box, action, person) for action in actions]
    proposals = [(v, t, np.clip(np.array(b) + rng.normal(0, 0.04, 4), 0, 1), a) for v, t, b, a in people
                 if rng.random() < 0.9]
    for _ in range(12):  # strays, some at keyframes without ground truth
        x1, y1 = rng.uniform(0, 0.7, 2)
        stray = np.array([x1, y1, x1 + 0.3, y1 + 0.3])
        proposals.append((str(rng.choice(videos)), int(rng.integers(900, 920)), stray, []))
    proposals.append((videos[0], 902, np.array([0.4, 0.4, 0.4, 0.8]), [1, 2]))     # empty
    proposals.append((videos[0], 903, np.array([0.6, 0.1, 0.3, 0.5]), [1, 2]))     # inverted
    rows = [(v, t, b, c, c in a) for v, t, b, a in proposals for c in range(1, 9) if rng.random() < 0.5]
    raw = rng.random(len(rows)) + 0.6 * np.array([r[4] for r in rows], dtype=float)  # true actions score higher
    scores = (np.argsort(np.argsort(raw)) + 1) / (len(rows) + 1)
    detections = BoxTable.build([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                                [r[3] for r in rows], scores)
    keyed = sorted({(v, t) for v, t, *_ in gt_rows})
    excluded = [keyed[int(i)] for i in rng.choice(len(keyed), 2, replace=False)] + [(videos[1], 919)]
    return RandomAVA(labels, gt_rows, detections, excluded)


def write_label_map(path: Path, labels: Mapping[int, str]) -> Path:
    """AVA's .pbtxt layout (`item { name: "..." id: N }`, two-space indent), written by hand."""
    path.write_text("".join(f'item {{\n  name: "{name}"\n  id: {i}\n}}\n' for i, name in labels.items()))
    return path


def write_rows(path: Path, rows: Iterable[tuple]) -> Path:
    """CSV rows as AVA writes them: timestamps %04d, floats as given (already formatted strings or numbers)."""
    lines = []
    for row in rows:
        video, stamp, *rest = row
        lines.append(",".join([str(video), f"{int(stamp):04d}", *(str(v) for v in rest)]))
    path.write_text("".join(line + "\n" for line in lines))
    return path
