"""`python -m paddlevideo_slowfast.pv export`: PaddleVideo's export path writes `<model_name>.json/.pdiparams` with
inputs slow_input/fast_input and no infer_cfg.yml; our `paddlevideo predict -c CONFIG` runs that model and gives
the trained model's own probabilities."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


VIEWS = (2, 3)


@pytest.fixture(scope="module")
def exported(pv_run, tmp_path_factory) -> Path:
    from paddlevideo_slowfast.pv.cli import main

    out = tmp_path_factory.mktemp("pv_export") / "inference"
    weights = pv_run["output"] / "Tiny_epoch_00008.pdparams"
    assert main(["export", "-c", str(pv_run["config"]), "-p", str(weights), "-o", str(out), "--device", "cpu"]) == 0
    return out


def test_paddlevideo_export_writes_its_layout(exported):
    import paddle.inference as pi

    assert sorted(p.name for p in exported.iterdir()) == ["Tiny.json", "Tiny.pdiparams"]  # no infer_cfg.yml
    config = pi.Config(str(exported / "Tiny.json"), str(exported / "Tiny.pdiparams"))
    config.disable_gpu()
    assert pi.create_predictor(config).get_input_names() == ["slow_input", "fast_input"]


def _dygraph_probabilities(config: Path, weights: Path, video: Path) -> np.ndarray:
    """The trained model itself (dygraph) on the same decode-once test views, averaged."""
    import paddle

    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.data import build_pipeline, decode_once_views
    from paddlevideo_slowfast.interop.weights import load_weights
    from paddlevideo_slowfast.modeling import build_model

    cfg = load_config(str(config))
    model = build_model(cfg.MODEL)
    load_weights(model, str(weights), allow_head_reinit=False)
    model.eval()
    slow, fast = decode_once_views(build_pipeline(cfg.PIPELINE.test), {"filename": str(video)}, *VIEWS)
    with paddle.no_grad():
        probs = model([paddle.to_tensor(slow), paddle.to_tensor(fast)], mode="infer").numpy()
    return probs.mean(axis=0)


def test_our_predict_runs_the_paddlevideo_export(exported, pv_run, tiny_dataset, capfd):
    from paddlevideo_slowfast.cli import main

    videos = [tiny_dataset / "val" / name / "0000.mp4" for name in ("left", "blink_fast")]
    argv = ["predict", "--model", str(exported), "-c", str(pv_run["config"]), "--json", "--top-k", "4",
            "--views", "x".join(map(str, VIEWS)), "--threads", "1", "--video", *map(str, videos)]
    assert main(argv) == 0
    records = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    assert [r["video"] for r in records] == list(map(str, videos))
    weights = pv_run["output"] / "Tiny_epoch_00008.pdparams"
    for record, video in zip(records, videos):
        scores = np.zeros(4)
        for entry in record["top_k"]:
            scores[entry["class_id"]] = entry["score"]
        np.testing.assert_allclose(scores, _dygraph_probabilities(pv_run["config"], weights, video), atol=1e-4)
