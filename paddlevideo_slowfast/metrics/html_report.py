"""`report.html` of `paddlevideo test`: overall and per-class accuracy, the confusion matrix PNG, and the
misclassified videos, most confident mistakes first, each with a strip of its frames (PNG files beside it).

One self-contained page with relative links (the folder can be moved or served as it is); a line at its foot,
written by a small script once the page has loaded, says whether every picture could be shown.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import List, Mapping, Optional, Sequence, Union

import cv2
import numpy as np

from .accuracy import per_class_accuracy
from .report import class_names

REPORT_NAME = "report.html"
STRIP_FOLDER = "misclassified"
STRIP_FRAMES = 6          # frames per thumbnail strip, spread evenly over the video
STRIP_HEIGHT = 64         # px of each thumbnail
MAX_STRIPS = 100          # mistakes shown with a strip (the most confident); all are listed

CHECK_SCRIPT = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var shown = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var line = document.getElementById("image-check");
  line.dataset.images = images.length;
  line.dataset.shown = shown;
  line.textContent = shown === images.length ? "all " + shown + " pictures shown"
                                             : (images.length - shown) + " of " + images.length + " pictures missing";
});
</script>"""

STYLE = """<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: middle; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.low { background: #fde2e2; }
img.strip { height: 64px; display: block; }
</style>"""


@dataclass
class Mistake:
    """One misclassified video: its path, true and predicted class, and their probabilities."""

    path: str
    true: int
    predicted: int
    confidence: float       # probability of the predicted class
    true_score: float       # probability of the true class


def mistakes(videos: Sequence) -> List[Mistake]:
    """The scored videos whose top class is wrong (VideoScores of a metric), most confident first."""
    found = []
    for video in videos:
        if not video.scored or not video.views:
            continue
        probabilities = video.scores / len(video.views)
        predicted = int(np.argmax(probabilities))
        if predicted != video.label:
            found.append(Mistake(video.name, int(video.label), predicted, float(probabilities[predicted]),
                                 float(probabilities[video.label])))
    return sorted(found, key=lambda m: (-m.confidence, m.path))


def write_strip(video: str, path: Path, frames: int = STRIP_FRAMES, height: int = STRIP_HEIGHT) -> Optional[Path]:
    """A PNG of `frames` frames spread over `video`, side by side; None when the video cannot be read."""
    from ..data import open_video
    from ..errors import SlowFastError

    try:
        with open_video(str(video)) as reader:
            count = reader.num_frames
            picks = np.unique(np.linspace(0, max(count - 1, 0), frames).round().astype(np.int64))
            images = reader.read(picks)
    except (SlowFastError, OSError, ValueError):
        return None
    width = max(1, round(images.shape[2] * height / images.shape[1]))
    row = np.concatenate([cv2.resize(np.ascontiguousarray(f), (width, height), interpolation=cv2.INTER_AREA)
                          for f in images], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path if cv2.imwrite(str(path), row[..., ::-1]) else None


def _percent(value: float) -> str:
    return "-" if np.isnan(value) else f"{100 * value:.1f}%"


def write_html_report(folder: Union[str, Path], confusion: np.ndarray, videos: Sequence,
                      result: Mapping[str, object], names: Optional[Sequence[str]] = None,
                      unscored: Sequence[str] = (), title: str = "paddlevideo test") -> Path:
    """Write `report.html` (and the strips under `misclassified/`) into `folder`, beside confusion_matrix.png."""
    folder = Path(folder)
    names = class_names(confusion.shape[0], names)
    esc = html.escape
    count, correct, accuracy = per_class_accuracy(confusion)
    head = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(title)}</title>{STYLE}</head><body>",
            f"<h1>{esc(title)}</h1>"]
    overall = [(key, value) for key, value in result.items() if key.startswith("top") or key == "mean_class_accuracy"]
    head.append("<table id='overall'><tr>" + "".join(f"<th>{esc(k)}</th>" for k, _ in overall)
                + "<th>scored videos</th><th>unscored</th></tr><tr>"
                + "".join(f"<td class='num'>{_percent(float(v))}</td>" for _, v in overall)
                + f"<td class='num'>{int(result.get('scored', count.sum()))}</td>"
                  f"<td class='num'>{int(result.get('unscored', len(unscored)))}</td></tr></table>")
    body = ["<h2>Per class</h2><table id='per-class'><tr><th>class</th><th>videos</th><th>correct</th>"
            "<th>accuracy</th></tr>"]
    mean = float(np.nanmean(accuracy)) if np.isfinite(accuracy).any() else float("nan")
    for i, name in enumerate(names):
        low = " class='class-row low'" if not np.isnan(accuracy[i]) and accuracy[i] < mean else " class='class-row'"
        body.append(f"<tr{low}><td>{esc(name)}</td><td class='num'>{int(count[i])}</td>"
                    f"<td class='num'>{int(correct[i])}</td><td class='num'>{_percent(accuracy[i])}</td></tr>")
    body.append("</table>")
    body.append("<h2>Confusion matrix</h2><img id='confusion' src='confusion_matrix.png' "
                "alt='confusion matrix (row-normalised)'>")
    wrong = mistakes(videos)
    body.append(f"<h2>Misclassified videos ({len(wrong)})</h2><p>Most confident mistakes first; a strip of "
                f"{STRIP_FRAMES} frames spread over each video (the first {MAX_STRIPS}).</p>"
                "<table id='misclassified'><tr><th>#</th><th>frames</th><th>video</th><th>true</th>"
                "<th>predicted</th><th>score of predicted</th><th>score of true</th></tr>")
    for rank, mistake in enumerate(wrong, 1):
        strip = write_strip(mistake.path, folder / STRIP_FOLDER / f"{rank:04d}.png") if rank <= MAX_STRIPS else None
        alt = esc(Path(mistake.path).name)
        picture = f"<img class='strip' src='{STRIP_FOLDER}/{strip.name}' alt='frames of {alt}'>" if strip else ""
        body.append(f"<tr class='miss-row'><td class='num'>{rank}</td><td>{picture}</td>"
                    f"<td>{esc(str(mistake.path))}</td><td>{esc(names[mistake.true])}</td>"
                    f"<td>{esc(names[mistake.predicted])}</td><td class='num'>{mistake.confidence:.4f}</td>"
                    f"<td class='num'>{mistake.true_score:.4f}</td></tr>")
    body.append("</table>")
    if unscored:
        body.append(f"<h2>Unscored videos ({len(unscored)})</h2><ul>"
                    + "".join(f"<li>{esc(str(item))}</li>" for item in unscored) + "</ul>")
    body.append(f"<p id='image-check'></p>{CHECK_SCRIPT}</body></html>")
    path = folder / REPORT_NAME
    path.write_text("\n".join(head + body) + "\n", encoding="utf-8")
    return path
