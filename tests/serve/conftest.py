"""A tiny exported SlowFast, a few embedded videos and bad uploads (the servers: serve_helpers.py).

The model is deploy's tiny one (tests/deploy/deploy_helpers.py) with a 30x classifier, so that two videos' scores
differ far beyond float rounding and a result given to the wrong request would show.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy"))
from deploy_helpers import tiny_overrides  # noqa: E402


@pytest.fixture(scope="session")
def serve_data(tmp_path_factory) -> Path:
    """The embedded dataset, one 64 px validation video per class."""
    from paddlevideo_slowfast.data import make_embedded_dataset

    return make_embedded_dataset(tmp_path_factory.mktemp("serve_embedded") / "data", train_per_class=0,
                                 val_per_class=1, workers=1)


@pytest.fixture(scope="session")
def serve_videos(serve_data) -> List[Path]:
    return sorted((serve_data / "val").glob("*/*.mp4"))


@pytest.fixture(scope="session")
def serve_model(tmp_path_factory, repo_root, serve_data) -> Path:
    """The tiny model exported for Paddle Inference; its folder."""
    import paddle

    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.deploy import ExportOptions, export_model
    from paddlevideo_slowfast.modeling import build_model

    cfg = load_config(str(repo_root / "configs" / "slowfast.yaml"), tiny_overrides(serve_data / "label_names.txt"))
    paddle.seed(11)
    model = build_model(cfg.MODEL)
    model.eval()
    projection = model.head.projection.weight
    projection.set_value(projection.numpy() * 30)
    return export_model(cfg, None, tmp_path_factory.mktemp("serve_export") / "tiny", ExportOptions(),
                        model=model).model_dir


@pytest.fixture(scope="session")
def bad_uploads(tmp_path_factory, serve_videos) -> dict:
    """name -> bytes of uploads that are no video: empty, text, truncated, audio only."""
    import av

    folder = tmp_path_factory.mktemp("bad_uploads")
    audio = folder / "tone.m4a"
    with av.open(str(audio), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        samples = (np.sin(np.arange(8000) * 0.1) * 8000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    video = serve_videos[0].read_bytes()
    return {"empty": b"", "text": b"this is a text file, not a video\n" * 20,
            "truncated": video[:len(video) * 2 // 5], "audio_only": audio.read_bytes()}



@pytest.fixture(scope="session")
def serve_detector(tiny_ava_config, tmp_path_factory) -> Path:
    """The tiny AVA detector (tests/conftest.py) with a 100x classifier (spread scores), exported by
    `paddlevideo export`; its folder."""
    import contextlib
    import io

    import paddle

    from paddlevideo_slowfast.cli import main
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.modeling import build_model

    paddle.seed(5)
    model = build_model(load_config(str(tiny_ava_config)).MODEL)
    model.eval()
    fc = model.roi_head.bbox_head.fc_cls.weight
    fc.set_value(fc.numpy() * 100)
    weights = tmp_path_factory.mktemp("serve_det_weights") / "tiny_det.pdparams"
    paddle.save(model.state_dict(), str(weights))
    out = tmp_path_factory.mktemp("serve_det_export") / "model"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["export", "-c", str(tiny_ava_config), "-w", str(weights), "--output", str(out)]) == 0
    return out
