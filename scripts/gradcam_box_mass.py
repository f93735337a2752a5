"""Grad-CAM box mass on the embedded dataset: how much of each pathway's Grad-CAM falls on the moving shape.

    python scripts/gradcam_box_mass.py -c configs/quickstart.yaml \
        -w output/SlowFast_quickstart/SlowFast_quickstart_best.pdparams [--layers s5 s4 s3] [--docs docs/explain.md]

For every video of DATASET.test (the embedded validation videos), Grad-CAM of its true class on the test
pipeline's centre clip (`paddlevideo explain`'s clip), each pathway's map upsampled to the clip's frames. The
shape's box of each of those frames is known (data/synthetic.py, `embedded_video_boxes`), dilated by 25%;
the table gives, per class over its correctly classified clips, the share of the frames inside the boxes (what a
map blind to the shape would put there) and the share of the Grad-CAM mass inside them, Slow and Fast.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from benchdoc import publish  # noqa: E402

SECTION = "gradcam_box_mass"


def measure(cfg, weights: str, layer: str) -> Dict[str, Dict[str, List[float]]]:
    """Per class: lists of area share, Slow and Fast mass shares (correct clips) and the clip count."""
    from paddlevideo_slowfast.config import get
    from paddlevideo_slowfast.data.synthetic import embedded_video_boxes
    from paddlevideo_slowfast.errors import ConfigError
    from paddlevideo_slowfast.explain.box_mass import box_area_share, box_mass_share, box_masks
    from paddlevideo_slowfast.explain.run import Explainer

    explainer = Explainer(cfg, weights, layer=layer)
    root = Path(get(cfg, "DATASET.test.data_prefix"))
    frame_size = int(json.loads((root / "dataset.json").read_text(encoding="utf-8"))["size"])
    rows: Dict[str, Dict[str, List[float]]] = {}
    for line in Path(get(cfg, "DATASET.test.file_path")).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        relative, label = line.split()[0], int(line.split()[1])
        name = explainer.labels[label]
        row = rows.setdefault(name, {"videos": [], "area": [], "slow": [], "fast": []})
        explanation = explainer.explain(root / relative, target=label)
        clip = explanation.clip
        boxes = embedded_video_boxes(root, relative)
        size = clip.frames.shape[1:3]
        if size != (frame_size, frame_size):
            raise ConfigError(f"the test pipeline shows {size[1]}x{size[0]} frames of {frame_size} px videos: box "
                              "coordinates would not apply", key="PIPELINE.test",
                              expected=f"JitterScale and MultiCrop at {frame_size} (the whole frame)")
        row["videos"].append(1.0)
        if int(np.argmax(explanation.cam.probabilities)) != label:
            continue
        masks = box_masks(boxes[clip.frame_indices], size)
        row["area"].append(box_area_share(masks))
        for pathway, heat in explanation.maps.items():
            row[pathway].append(box_mass_share(heat, masks))
    return rows


def table(rows: Dict[str, Dict[str, List[float]]]) -> List[str]:
    def mean(values: List[float]) -> str:
        kept = [v for v in values if not np.isnan(v)]
        zero = len(values) - len(kept)   # maps the ReLU left empty: no mass anywhere
        text = f"{np.mean(kept):.3f}" if kept else "-"
        return text + (f" ({zero} empty)" if zero else "")

    lines = ["| class | correct / videos | box area share | Slow mass in box | Fast mass in box |",
             "|---|---|---|---|---|"]
    total: Dict[str, List[float]] = {"area": [], "slow": [], "fast": []}
    for name, row in rows.items():
        lines.append(f"| {name} | {len(row['area'])} / {len(row['videos'])} | {mean(row['area'])} | "
                     f"{mean(row['slow'])} | {mean(row['fast'])} |")
        for key in total:
            total[key].extend(row[key])
    correct, videos = sum(len(r["area"]) for r in rows.values()), sum(len(r["videos"]) for r in rows.values())
    lines.append(f"| **all** | {correct} / {videos} | {mean(total['area'])} | {mean(total['slow'])} | "
                 f"{mean(total['fast'])} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", default=str(REPO / "configs" / "quickstart.yaml"))
    parser.add_argument("-w", "--weights", required=True)
    parser.add_argument("-o", "--override", nargs="+", default=[])
    parser.add_argument("--layers", nargs="+", default=["s5"])
    parser.add_argument("--note", default="", help="a sentence on the run (the machine, the weights)")
    parser.add_argument("--docs", default=None, help="write the section into this markdown file")
    args = parser.parse_args()

    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.runtime import configure_cpu_threads

    configure_cpu_threads()
    cfg = load_config(args.config, args.override)
    parts = [f"Measured by `scripts/gradcam_box_mass.py` on {platform.machine()} ({time.strftime('%Y-%m-%d')}): "
             f"`{Path(args.config).name}`, weights `{Path(args.weights).name}`. {args.note}".rstrip()]
    for layer in args.layers:
        start = time.time()
        rows = measure(cfg, args.weights, layer)
        parts += ["", f"Grad-CAM of stage `{layer}`, means over each class's correctly classified clips "
                      f"({time.time() - start:.0f} s):", "", *table(rows)]
    publish(SECTION, "\n".join(parts), args.docs)


if __name__ == "__main__":
    main()
