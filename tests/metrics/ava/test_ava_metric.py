"""`AVAMetric`: PaddleVideo's keys, the detector's test_step outputs in, frame-mAP and AVA's result CSV out."""
from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from paddlevideo_slowfast.data.ava.annotations import read_annotations
from paddlevideo_slowfast.errors import ConfigError, SlowFastError
from paddlevideo_slowfast.metrics import build_metric
from paddlevideo_slowfast.metrics.ava import AVAMetric, frame_map, read_results

from ava_cases import random_ava, write_label_map, write_rows  # tests/metrics/ava/ava_cases.py

NUM_CLASSES = 9  # background + action ids 1..8, as the random data uses


@pytest.fixture
def ava_files(tmp_path):
    data = random_ava(3)
    files = {"label_file": write_label_map(tmp_path / "labels.pbtxt", data.labels),
             "file_path": write_rows(tmp_path / "gt.csv", data.gt_rows),
             "exclude_file": write_rows(tmp_path / "excluded.csv", data.excluded)}
    return data, {k: str(v) for k, v in files.items()}


def step_outputs(data, num_classes=NUM_CLASSES):
    """What FastRCNN.test_step returns, one entry per keyframe: num_classes - 1 arrays [n, 5], class i + 1 at i."""
    det = data.detections
    keys = sorted(set(det.frame_keys()))
    info = [{"video_id": v, "timestamp": t} for v, t in keys]
    outputs = []
    for video, stamp in keys:
        here = (det.video_id == video) & (det.timestamp == stamp)
        outputs.append([np.concatenate([det.boxes[here & (det.action_id == c)],
                                        det.score[here & (det.action_id == c)][:, None]], axis=1).astype(np.float32)
                        for c in range(1, num_classes)])
    return info, outputs


def batches(outputs, size):
    """PaddleVideo's 14-entry batch lists (only entry 8, the record index, matters here) with their outputs."""
    for start in range(0, len(outputs), size):
        index = np.arange(start, min(start + size, len(outputs)))
        yield [None] * 8 + [index] + [None] * 5, outputs[start:start + size]


def run(metric, info, outputs, size=3):
    metric.set_dataset_info(info, len(info))
    for i, (data, out) in enumerate(batches(outputs, size)):
        metric.update(i, data, out)
    return metric.accumulate()


def test_paddlevideo_config_keys_build_it(ava_files):
    _, files = ava_files
    cfg = {"name": "AVAMetric", **files, "custom_classes": 81}  # PaddleVideo's configs/detection/ava/ava.yaml
    metric = build_metric(cfg, data_size=10, batch_size=2)
    assert isinstance(metric, AVAMetric) and metric.class_ids is None
    with pytest.raises(ConfigError, match="METRIC.file_path"):
        AVAMetric(label_file=files["label_file"])


def test_accumulate_scores_what_it_writes(ava_files, tmp_path, pv_evaluate):
    """The mAP it returns equals ours and PaddleVideo's on the detections.csv it writes."""
    data, files = ava_files
    info, outputs = step_outputs(data)
    metric = AVAMetric(data_size=len(info), batch_size=3, output_dir=str(tmp_path / "out"), log_interval=0, **files)
    result = run(metric, info, outputs)
    written = tmp_path / "out" / "detections.csv"
    table = read_results(written).table
    mine = frame_map(read_annotations(files["file_path"]).records, table, data.labels, data.excluded)
    assert result["mAP@0.5IOU"] == mine.mean_ap
    pv_map, _ = pv_evaluate(files["label_file"], files["file_path"], written, files["exclude_file"])
    assert result["mAP@0.5IOU"] == pytest.approx(pv_map, abs=1e-6)
    assert len(table) == len(data.detections)  # all of the model's rows, other classes and empty boxes included
    assert set(result["per_class"]) == set(data.labels) and result["per_class"][8] is None


def test_report_files(ava_files, tmp_path):
    data, files = ava_files
    info, outputs = step_outputs(data)
    metric = AVAMetric(**files, log_interval=0)
    run(metric, info, outputs)
    paths = metric.save_report(tmp_path / "report")
    with open(paths["per_class_csv"], newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["class_id", "class_name", "ap", "gt", "detections", "tp", "recall"]
    assert [int(r[0]) for r in rows[1:]] == sorted(data.labels)
    assert rows[-1][1:3] == ["action 8", ""]  # no ground truth: no AP
    table = paths["table"].read_text()
    assert table.startswith(f"mAP@0.5IOU = {metric.result.mean_ap:.4f} over 5 of 6 classes")
    first = read_results(paths["detections_csv"]).table
    assert len(first) and first.timestamp.min() >= 900
    assert paths["detections_csv"].read_text().splitlines()[0].count(",") == 7


def test_repeated_and_missing_indices(ava_files):
    """The distributed sampler's padding repeats records: counted once; a record never delivered leaves its
    ground truth missed."""
    data, files = ava_files
    info, outputs = step_outputs(data)
    full = AVAMetric(**files, log_interval=0)
    once = run(full, info, outputs)["mAP@0.5IOU"]
    metric = AVAMetric(**files, log_interval=0)
    metric.set_dataset_info(info, len(info))
    metric.update(0, [None] * 8 + [np.arange(len(info))] + [None] * 5, outputs)
    metric.update(1, [None] * 8 + [np.array([0, 1])] + [None] * 5, outputs[2:4])  # padding: other clips, old ids
    assert metric.accumulate()["mAP@0.5IOU"] == once
    fewer = AVAMetric(**files, log_interval=0)
    fewer.set_dataset_info(info, len(info))
    fewer.update(0, {"idx": np.arange(1, len(info))}, outputs[1:])
    result = fewer.accumulate()
    first = (info[0]["video_id"], info[0]["timestamp"])
    rest = full.detections.select((full.detections.video_id != first[0]) | (full.detections.timestamp != first[1]))
    expected = frame_map(read_annotations(files["file_path"]).records, rest, data.labels, data.excluded)
    assert result["mAP@0.5IOU"] == expected.mean_ap != once
    assert result["detections"] == len(rest) < len(full.detections)


def test_sequential_without_index_like_paddlevideo(ava_files):
    data, files = ava_files
    info, outputs = step_outputs(data)
    expected = run(AVAMetric(**files, log_interval=0), info, outputs)["mAP@0.5IOU"]
    metric = AVAMetric(**files, log_interval=0)
    metric.set_dataset_info(lambda i: (info[i]["video_id"], info[i]["timestamp"]), len(info))
    for i, out in enumerate(outputs):
        metric.update(i, [None, None], [out])  # PaddleVideo's batch size 1 with no usable index
    assert metric.accumulate()["mAP@0.5IOU"] == expected


def test_custom_classes_map_output_positions(ava_files):
    """mmaction2's custom_classes: output position i is action custom_classes[i]; only those classes count."""
    data, files = ava_files
    info, outputs = step_outputs(data)
    picked = [1, 3, 7]
    narrowed = [[clip[c - 1] for c in picked] for clip in outputs]
    result = run(AVAMetric(**files, custom_classes=[0] + picked, log_interval=0), info, narrowed)
    assert set(result["per_class"]) == set(picked)
    full = run(AVAMetric(**files, log_interval=0), info, outputs)
    assert [result["per_class"][c] for c in picked] == [full["per_class"][c] for c in picked]
    with pytest.raises(ConfigError, match="custom_classes"):
        run(AVAMetric(**files, custom_classes=[1, 4], log_interval=0), info, [c[:2] for c in outputs])
    with pytest.raises(SlowFastError, match="2 classes"):
        run(AVAMetric(**files, custom_classes=[1, 3, 7], log_interval=0), info, [c[:2] for c in outputs])


def test_bad_output_shape(ava_files):
    _, files = ava_files
    metric = AVAMetric(**files, log_interval=0)
    with pytest.raises(SlowFastError, match=r"\[3, 4\]"):
        metric.update(0, {"idx": [0]}, [[np.zeros((3, 4))]])


def test_needs_dataset_info(ava_files):
    data, files = ava_files
    _, outputs = step_outputs(data)
    metric = AVAMetric(**files, log_interval=0)
    metric.update(0, [None] * 8 + [np.array([0])] + [None] * 5, outputs[:1])
    with pytest.raises(SlowFastError, match="set_dataset_info"):
        metric.accumulate()


def test_empty_clip_and_no_detection_at_all(ava_files):
    data, files = ava_files
    info, outputs = step_outputs(data)
    empty = [[np.zeros((0, 5), np.float32) for _ in range(NUM_CLASSES - 1)] for _ in outputs]
    metric = AVAMetric(**files, log_interval=0)
    result = run(metric, info, empty)
    assert result["mAP@0.5IOU"] == 0.0 and result["detections"] == 0
    assert result["missed_keyframes"] == result["keyframes"] and len(metric.unscored_names) == result["keyframes"]
    assert not math.isnan(result["mAP@0.5IOU"])
