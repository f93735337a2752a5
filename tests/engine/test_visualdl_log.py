"""The training run's VisualDL log (`visualdl --logdir <output>/vdl`): the learning-rate curve as a scalar per
logged step and the validation confusion matrix as an image after each validation."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from paddlevideo_slowfast.engine.trainer import TrainOptions, train_model


def test_learning_rate_and_confusion_images(tiny_cfg, tmp_path: Path) -> None:
    from visualdl import LogReader

    out = tmp_path / "run"
    train_model(tiny_cfg, TrainOptions(validate=True, output=str(out)))   # 2 epochs of 8 steps, validating each
    logs = sorted((out / "vdl").glob("vdlrecords.*.log"))
    assert len(logs) == 1
    reader = LogReader(file_path=str(logs[0]))
    tags = reader.get_tags()
    assert "train/lr" in tags["scalar"] and tags["image"] == ["valid/confusion_matrix"]
    lr = np.array([r.value for r in reader.get_data("scalar", "train/lr")])
    assert len(lr) == 16 and (lr > 0).all()
    peak = int(np.argmax(lr))                       # one warm-up epoch up, then the cosine down
    assert 0 < peak < 15 and (np.diff(lr[:peak + 1]) > 0).all() and (np.diff(lr[peak:]) < 0).all()
    images = reader.get_data("image", "valid/confusion_matrix")
    assert [r.id for r in images] == [8, 16]       # the global step of each validation
    picture = cv2.imdecode(np.frombuffer(images[-1].image.encoded_image_string, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape[0] > 200 and picture.std() > 10
