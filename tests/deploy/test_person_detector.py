"""PersonDetector on a tiny detector built and exported here in PaddleDetection's format (no weights to download).

The detector takes image/im_shape/scale_factor like PaddleDetection's exports and returns rows [class, score, x1,
y1, x2, y2] in frame pixels plus the row count: row 0 is the person box around the frame's bright region (found
on the preprocessed image, so Resize, NormalizeImage, Permute and the scale factor all have to be right), then a
box of class 1, a person box of score 0.3, and a row past the count that must never come out.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from paddlevideo_slowfast.deploy.det_preprocess import build_preprocess, run_preprocess
from paddlevideo_slowfast.deploy.person_detector import PersonDetector, person_boxes
from paddlevideo_slowfast.errors import CheckpointError, ConfigError

H, W = 90, 160
BRIGHT = (40, 20, 100, 70)  # x1, y1, x2, y2 (end exclusive) of the white region, frame pixels
HEADS = [[0, 0.95], [1, 0.9], [0, 0.3], [0, 0.99]]  # class, score of each row; the last is past the count
CONSTANT = [[0.1, 0.2, 0.3, 0.6], [0.5, 0.1, 0.9, 0.5], [0.0, 0.0, 1.0, 1.0]]  # rows 1-3, normalised
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
FIXED = [{"type": "Resize", "target_size": [64, 64], "keep_ratio": False, "interp": 2},
         {"type": "NormalizeImage", "mean": MEAN, "std": STD, "is_scale": True}, {"type": "Permute"}]
KEEP_RATIO = [{"type": "Resize", "target_size": [64, 96], "keep_ratio": True, "interp": 1},
              {"type": "NormalizeImage", "mean": MEAN, "std": STD, "is_scale": True, "norm_type": "mean_std"},
              {"type": "Permute"}, {"type": "PadStride", "stride": 32}]


def tiny_detector():
    import paddle

    class BrightRegionDetector(paddle.nn.Layer):
        """Rows [class, score, x1, y1, x2, y2] in frame pixels, as a PaddleDetection export returns them."""

        def __init__(self):
            super().__init__()
            self.register_buffer("heads", paddle.to_tensor(HEADS, dtype="float32"))
            self.register_buffer("constant", paddle.to_tensor(CONSTANT, dtype="float32"))

        @staticmethod
        def span(line):
            """First bright index and last + 1: the counts of leading zeros and of indices up to the last one
            (mean x length: sum and argmax do not build under the legacy program's OldIrGuard on Paddle 3.3)."""
            length = paddle.shape(line)[0].astype("float32")
            first = (paddle.cumsum(line) == 0).astype("float32").mean() * length
            end = (paddle.cumsum(paddle.flip(line, [0])) > 0).astype("float32").mean() * length
            return first, end

        def forward(self, image, im_shape, scale_factor):
            bright = (image[0].mean(axis=0) > 1.0).astype("float32")  # [H', W'] white, not the zero padding
            x1, x2 = self.span(bright.max(axis=0))
            y1, y2 = self.span(bright.max(axis=1))
            sy, sx = scale_factor[0, 0], scale_factor[0, 1]
            box = paddle.stack([x1 / sx, y1 / sy, x2 / sx, y2 / sy]).reshape([1, 4])
            frame_h, frame_w = im_shape[0, 0] / sy, im_shape[0, 1] / sx
            size = paddle.stack([frame_w, frame_h, frame_w, frame_h]).reshape([1, 4])
            boxes = paddle.concat([box, self.constant * size], axis=0)
            # a product, not the buffer itself: Paddle 3.3.1's SeqPoolCVMConcatFusePass segfaults on a legacy
            # program whose concat reads a persistable variable directly
            heads = self.heads * paddle.ones_like(scale_factor[:, :1])
            return paddle.concat([heads, boxes], axis=1), paddle.full([1], 3, dtype="int32")

    return BrightRegionDetector()


def write_infer_cfg(path: Path, preprocess, labels) -> None:
    """PaddleDetection's infer_cfg.yml layout (tools/export_model.py)."""
    cfg = {"mode": "paddle", "draw_threshold": 0.5, "metric": "COCO", "use_dynamic_shape": False, "arch": "YOLO",
           "min_subgraph_size": 3, "Preprocess": preprocess, "label_list": labels}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def detectors(tmp_path_factory):
    """{'ppdet': model.json + infer_cfg.yml, 'paddlex': legacy inference.pdmodel + inference.yml}."""
    import paddle

    root = tmp_path_factory.mktemp("detector")
    specs = [paddle.static.InputSpec([1, 3, None, None], "float32", "image"),
             paddle.static.InputSpec([1, 2], "float32", "im_shape"),
             paddle.static.InputSpec([1, 2], "float32", "scale_factor")]
    layer = tiny_detector()
    layer.eval()
    paddle.jit.save(paddle.jit.to_static(layer, input_spec=specs, full_graph=True), str(root / "ppdet" / "model"))
    write_infer_cfg(root / "ppdet" / "infer_cfg.yml", FIXED, ["person", "bicycle"])
    legacy = tiny_detector()
    legacy.eval()
    with paddle.pir_utils.OldIrGuard():
        paddle.jit.save(paddle.jit.to_static(legacy, input_spec=specs, full_graph=True),
                        str(root / "paddlex" / "inference"))
    write_infer_cfg(root / "paddlex" / "inference.yml", KEEP_RATIO, ["pedestrian", "car"])
    return {"ppdet": root / "ppdet", "paddlex": root / "paddlex"}


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    image = np.full((H, W, 3), 60, dtype=np.uint8)
    x1, y1, x2, y2 = BRIGHT
    image[y1:y2, x1:x2] = 255
    return image


def bright_box() -> np.ndarray:
    return np.array(BRIGHT, dtype=np.float32) / [W, H, W, H]


@pytest.mark.parametrize("kind", ["ppdet", "paddlex"])
def test_the_person_box_comes_back_normalised(detectors, frame, kind):
    boxes = PersonDetector(detectors[kind], threads=1).boxes(frame)
    assert boxes.shape == (1, 5) and boxes.dtype == np.float32
    np.testing.assert_allclose(boxes[0, :4], bright_box(), atol=0.03)
    assert boxes[0, 4] == pytest.approx(0.95)


def test_the_class_filter_keeps_only_the_asked_class(detectors, frame):
    detector = PersonDetector(detectors["ppdet"], person_class=1, threads=1)
    assert detector.label == "bicycle"
    boxes = detector.boxes(frame)
    np.testing.assert_allclose(boxes, [[*CONSTANT[0], 0.9]], atol=0.01)


def test_the_threshold_and_the_row_count(detectors, frame):
    boxes = PersonDetector(detectors["ppdet"], threshold=0.2, threads=1).boxes(frame)
    np.testing.assert_allclose(boxes[:, 4], [0.95, 0.3], atol=1e-6)  # best first; the 0.99 row is past the count
    np.testing.assert_allclose(boxes[1, :4], CONSTANT[1], atol=0.01)
    assert PersonDetector(detectors["ppdet"], threshold=0.96, threads=1).boxes(frame).shape == (0, 5)


def test_preprocess_follows_paddledetection(frame):
    where = "infer_cfg.yml"
    fixed = run_preprocess(build_preprocess(FIXED, where), frame, where)
    assert fixed["image"].shape == (1, 3, 64, 64)
    np.testing.assert_allclose(fixed["scale_factor"], [[64 / H, 64 / W]], rtol=1e-6)
    padded = run_preprocess(build_preprocess(KEEP_RATIO, where), frame, where)
    # keep_ratio: 64/90 would make the long side 114 > 96, so 96/160 = 0.6 -> 54x96, padded to 64x96
    assert padded["image"].shape == (1, 3, 64, 96)
    np.testing.assert_allclose(padded["im_shape"], [[54, 96]])
    np.testing.assert_allclose(padded["scale_factor"], [[0.6, 0.6]], rtol=1e-6)
    assert not padded["image"][0, :, 54:].any()


def test_person_boxes_clip_and_drop_empty_boxes():
    rows = np.array([[0, 0.8, -10, 5, 50, 200], [0, 0.9, 120, 0, 150, 10], [0, 0.7, 10, 10, 20, 20]], np.float32)
    boxes = person_boxes(rows, 3, person_class=0, threshold=0.5, height=100, width=100)
    np.testing.assert_allclose(boxes, [[0, 0.05, 0.5, 1.0, 0.8], [0.1, 0.1, 0.2, 0.2, 0.7]], atol=1e-6)
    assert person_boxes(rows, 0, person_class=0, threshold=0.0, height=100, width=100).shape == (0, 5)


def one_line_error(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text
    return text


def test_an_unsupported_op_is_one_line_naming_the_file_and_op(detectors, tmp_path):
    folder = tmp_path / "warp"
    shutil.copytree(detectors["ppdet"], folder)
    write_infer_cfg(folder / "infer_cfg.yml", [*FIXED, {"type": "WarpAffine", "keep_res": True}], ["person"])
    with pytest.raises(ConfigError) as exc_info:
        PersonDetector(folder)
    text = one_line_error(exc_info)
    assert "'WarpAffine' is not supported" in text and str(folder / "infer_cfg.yml") in text
    assert "Preprocess[3].type" in text


@pytest.mark.parametrize("remove,named", [("model.json", "model.json"), ("model.pdiparams", "model.pdiparams"),
                                          ("infer_cfg.yml", "infer_cfg.yml")])
def test_a_missing_file_is_one_line_naming_it(detectors, tmp_path, remove, named):
    folder = tmp_path / "missing"
    shutil.copytree(detectors["ppdet"], folder)
    (folder / remove).unlink()
    with pytest.raises(ConfigError) as exc_info:
        PersonDetector(folder)
    text = one_line_error(exc_info)
    assert named in text and str(folder) in text


def test_bad_models_and_classes_are_one_line(detectors, tmp_path):
    folder = tmp_path / "corrupt"
    shutil.copytree(detectors["ppdet"], folder)
    (folder / "model.json").write_text("not a program", encoding="utf-8")
    with pytest.raises(CheckpointError) as exc_info:
        PersonDetector(folder)
    assert "model.json" in one_line_error(exc_info)
    with pytest.raises(ConfigError) as exc_info:
        PersonDetector(detectors["ppdet"], person_class=5)
    assert "person class 5" in one_line_error(exc_info)
