#!/usr/bin/env python
"""Export parity of the full SlowFast R50 4x16 (configs/slowfast.yaml, 256 px test crop), too slow for the suite.

1. `export_model` in the PIR format (+ ONNX) and the legacy format; Paddle Inference with oneDNN on and off,
   the legacy program, and onnxruntime must each equal dygraph to 1e-4 max abs on the probabilities of two clips.
2. PaddleVideo's own tools/export_model.py (the snapshot in shared/third_party) exports the same weights
   (inputs slow_input/fast_input, no infer_cfg.yml); `Predictor(..., config=PaddleVideo's config)` must give the
   same scores on a generated video as our export does.
The weights are the seed-0 init with drawn BN statistics and a 100x classifier (peaked probabilities), or -w.
Usage: python scripts/check_export_r50.py [-w WEIGHTS] [--keep DIR]   (about 3 minutes on 2 cores)
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from benchmodel import trained_like_bn  # noqa: E402  (scripts/ is on sys.path when run)

REPO = Path(__file__).resolve().parents[1]
PADDLEVIDEO = REPO.parent / "shared" / "third_party" / "PaddleVideo"
sys.path.insert(0, str(REPO))

TOLERANCE = 1e-4


def peaked_r50(cfg, weights):
    """The configured R50 in eval mode: `weights`, or seed-0 init with drawn BN statistics and a 100x classifier."""
    from paddlevideo_slowfast.deploy.export import build_for_export

    model = build_for_export(cfg, weights)
    if weights:
        return model
    trained_like_bn(model)
    projection = model.head.projection.weight
    projection.set_value(projection.numpy() * 100)
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-w", "--weights", default=None, help="trained weights (default: drawn, see above)")
    parser.add_argument("--keep", default=None, metavar="DIR", help="keep the exports here (default: a temp dir)")
    args = parser.parse_args()

    import paddle

    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.data.synthetic import render_video
    from paddlevideo_slowfast.data.video_writer import write_video
    from paddlevideo_slowfast.deploy import ExportOptions, Predictor, export_model
    from paddlevideo_slowfast.deploy.onnx import OnnxRunner
    from paddlevideo_slowfast.deploy.runtime import PaddleRunner

    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="check_export_r50_")  # ~0.9 GB of exports
    work = Path(args.keep or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    cfg = load_config(str(REPO / "configs" / "slowfast.yaml"))
    model = peaked_r50(cfg, args.weights)
    weights = work / "r50.pdparams"
    paddle.save(model.state_dict(), str(weights))

    start = time.time()
    pir = export_model(cfg, None, work / "pir", ExportOptions(onnx=True), model=model)
    legacy = export_model(cfg, None, work / "legacy", ExportOptions(legacy=True), model=model)
    print(f"exported PIR + ONNX and legacy in {time.time() - start:.0f} s; inputs {pir.info.inputs}")

    rng = np.random.default_rng(0)
    (_, _, t_slow, size, _), (_, _, t_fast, _, _) = (spec["shape"] for spec in pir.info.inputs)
    slow = rng.standard_normal((2, 3, t_slow, size, size)).astype(np.float32)
    fast = rng.standard_normal((2, 3, t_fast, size, size)).astype(np.float32)
    with paddle.no_grad():
        reference = model([paddle.to_tensor(slow), paddle.to_tensor(fast)], mode="infer").numpy()
    print(f"dygraph top probabilities {np.round(reference.max(axis=1), 3)} (peaked: the bound below is meaningful)")
    runs = {
        "Paddle Inference, oneDNN on": PaddleRunner(pir.model_file, pir.params_file, onednn=True),
        "Paddle Inference, oneDNN off": PaddleRunner(pir.model_file, pir.params_file, onednn=False),
        "Paddle Inference, legacy .pdmodel": PaddleRunner(legacy.model_file, legacy.params_file),
        "onnxruntime (paddle2onnx)": OnnxRunner(pir.onnx_file),
    }
    failed = 0
    for name, runner in runs.items():
        diff = float(np.abs(runner(slow, fast) - reference).max())
        failed += diff > TOLERANCE
        print(f"  {name:36s} max abs {diff:.2e}  {'ok' if diff <= TOLERANCE else 'FAIL'}")

    if (PADDLEVIDEO / "tools" / "export_model.py").is_file():
        pv_config = PADDLEVIDEO / "configs" / "recognition" / "slowfast" / "slowfast.yaml"
        subprocess.run([sys.executable, "tools/export_model.py", "-c", str(pv_config), "-p", str(weights),
                        "-o", str(work / "paddlevideo")], cwd=PADDLEVIDEO, check=True, capture_output=True)
        video = write_video(work / "video.mp4", render_video("rotate_cw", np.random.default_rng(0), size=128,
                                                             frames=80), fps=30)
        ours = Predictor(pir.model_dir, views="1x3").predict(video)
        theirs = Predictor(work / "paddlevideo", config=pv_config, views="1x3").predict(video)
        diff = float(np.abs(ours.scores - theirs.scores).max())
        failed += diff > TOLERANCE
        print(f"  PaddleVideo's own export via predict -c  max abs {diff:.2e} vs ours  "
              f"{'ok' if diff <= TOLERANCE else 'FAIL'} (top-1 {ours.top_k[0]['class_id']} / "
              f"{theirs.top_k[0]['class_id']})")
    else:
        print(f"  PaddleVideo snapshot not found at {PADDLEVIDEO}: its export was not checked")
    print(f"{'all equal' if not failed else f'{failed} FAILED'} (bound {TOLERANCE})"
          + (f"; files in {work}" if args.keep else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
