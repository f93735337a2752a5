"""Frame-mAP report files: the per-class AP as CSV and as a readable table beside the mAP."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Dict, List, Union

from .frame_map import FrameMAP


def _number(value: float, digits: int = 6) -> str:
    return "" if math.isnan(value) else f"{value:.{digits}f}"


def write_per_class_csv(path: Union[str, Path], result: FrameMAP) -> Path:
    """One row per label-map class: id, name, AP (empty without ground truth), instances, detections, TPs, recall."""
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["class_id", "class_name", "ap", "gt", "detections", "tp", "recall"])
        for class_id, c in result.per_class.items():
            writer.writerow([class_id, c.name, _number(c.ap), c.gt, c.detections, c.tp, _number(c.recall)])
    return path


def format_table(result: FrameMAP) -> str:
    """A fixed-width table of the classes, best AP first (classes without ground truth last), under the mAP line."""
    scored = sum(not math.isnan(c.ap) for c in result.per_class.values())
    lines: List[str] = [
        f"{result.key} = {_number(result.mean_ap, 4) or 'nan'} over {scored} of {len(result.per_class)} classes "
        f"({result.frames} keyframes with ground truth, {len(result.missed_frames)} of them without a detection)",
        "", f"{'id':>4}  {'class':<40} {'AP':>7} {'gt':>7} {'dets':>8} {'tp':>7} {'recall':>7}"]
    ranked = sorted(result.per_class.items(),
                    key=lambda item: (math.isnan(item[1].ap), 0.0 if math.isnan(item[1].ap) else -item[1].ap, item[0]))
    for class_id, c in ranked:
        ap = "-" if math.isnan(c.ap) else f"{c.ap:.4f}"
        recall = "-" if math.isnan(c.recall) else f"{c.recall:.4f}"
        lines.append(f"{class_id:>4}  {c.name[:40]:<40} {ap:>7} {c.gt:>7} {c.detections:>8} {c.tp:>7} {recall:>7}")
    if any(result.dropped.values()):
        lines += ["", "set aside: " + ", ".join(f"{k} {v}" for k, v in result.dropped.items() if v)]
    return "\n".join(lines) + "\n"


def write_report(folder: Union[str, Path], result: FrameMAP) -> Dict[str, Path]:
    """per_class_ap.csv and per_class_ap.txt (the table) in `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"per_class_csv": write_per_class_csv(folder / "per_class_ap.csv", result),
             "table": folder / "per_class_ap.txt"}
    paths["table"].write_text(format_table(result), encoding="utf-8")
    return paths
