"""Evaluation report: per-class CSV, confusion CSV and PNG, unscored list, label-name files."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from paddlevideo_slowfast.errors import ConfigError
from paddlevideo_slowfast.metrics import MultiCropMetric
from paddlevideo_slowfast.metrics.report import read_label_names


def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_report_files(tmp_path):
    labels_file = tmp_path / "labels.txt"
    labels_file.write_text("0 move left\n1 move right\n2 blink fast\n")
    metric = MultiCropMetric(num_ensemble_views=1, num_spatial_crops=1, num_classes=3, label_names=str(labels_file))
    # true 0,0,1,1,1 ; predicted 0,1,1,1,0 ; class 2 has no video
    scores = np.eye(3)[[0, 1, 1, 1, 0]] * 5.0
    metric.add(scores, [0, 0, 1, 1, 1])
    metric.add_unscored(["bad.mp4"])
    paths = metric.save_report(tmp_path / "report")

    per_class = rows(paths["per_class_csv"])
    assert per_class[0] == ["class_id", "class_name", "videos", "correct", "accuracy"]
    assert per_class[1] == ["0", "move left", "2", "1", "0.500000"]
    assert per_class[2] == ["1", "move right", "3", "2", "0.666667"]
    assert per_class[3] == ["2", "blink fast", "0", "0", ""]
    confusion = rows(paths["confusion_csv"])
    assert confusion[0] == ["true \\ predicted", "move left", "move right", "blink fast"]
    assert [r[1:] for r in confusion[1:]] == [["1", "1", "0"], ["1", "2", "0"], ["0", "0", "0"]]
    assert paths["confusion_png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths["unscored"].read_text() == "bad.mp4\n"
    assert metric.result["top1"] == pytest.approx(0.6) and metric.result["unscored"] == 1
    assert metric.result["mean_class_accuracy"] == pytest.approx((0.5 + 2 / 3) / 2)


def test_report_without_names_and_many_classes(tmp_path):
    metric = MultiCropMetric(num_ensemble_views=1, num_spatial_crops=1)
    metric.add(np.eye(60)[np.arange(60) % 60] * 3.0, np.arange(60))
    paths = metric.save_report(tmp_path)
    assert rows(paths["per_class_csv"])[60][:2] == ["59", "class_59"]
    assert paths["confusion_png"].stat().st_size > 0 and "unscored" not in paths


@pytest.mark.parametrize("text, names", [
    ("left\nright\n", ["left", "right"]),
    ("0 air drumming\n1 zumba\n", ["air drumming", "zumba"]),
    ("zumba 1\nair drumming 0\n", ["air drumming", "zumba"]),
])
def test_label_name_files(tmp_path, text, names):
    path = tmp_path / "names.txt"
    path.write_text(text)
    assert read_label_names(path) == names


def test_label_name_file_with_gaps_is_an_error(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("0 a\n2 b\n")
    with pytest.raises(ConfigError):
        read_label_names(path)
