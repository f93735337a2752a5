"""Action detection in deployment on the tiny generated AVA set (tests/conftest.py): export of a FastRCNN with box
inputs and its parity, `paddlevideo detect` with box files and a person detector, the JSON records, the annotated
video, bounded decoding, errors, and the frame-mAP of `detect --boxes` (val proposals) equal to `paddlevideo test`'s.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import yaml

from paddlevideo_slowfast.cli import main

CLASSES = 10  # the tiny set's num_classes (conftest.TINY_AVA_CLASSES)
VIDEO_START = 900  # the generated videos are AVA-style cuts starting at second 900
PERSON_THRESHOLD = 0.9  # the AVA configs' person_det_score_thr


@pytest.fixture(scope="module")
def weights(tiny_ava_config: Path, tmp_path_factory) -> Path:
    """Tiny detector weights with random BN statistics (so folding matters) and a 100x classifier (spread scores)."""
    import paddle

    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.modeling import build_model

    model = build_model(load_config(str(tiny_ava_config)).MODEL)
    model.eval()
    rng = np.random.default_rng(7)
    for layer in model.sublayers():
        if isinstance(layer, paddle.nn.BatchNorm3D):
            c = layer._mean.shape[0]
            layer._mean.set_value((rng.standard_normal(c) * 0.1).astype(np.float32))
            layer._variance.set_value((rng.random(c) + 0.5).astype(np.float32))
    fc = model.roi_head.bbox_head.fc_cls.weight
    fc.set_value(fc.numpy() * 100)
    path = tmp_path_factory.mktemp("det_weights") / "tiny_det.pdparams"
    paddle.save(model.state_dict(), str(path))
    return path


@pytest.fixture(scope="module")
def exported(tiny_ava_config: Path, weights: Path, tmp_path_factory) -> Tuple[Path, str]:
    """`paddlevideo export --format onnx` of the tiny detector: (folder, what it printed)."""
    out = tmp_path_factory.mktemp("det_export") / "model"
    capture = tmp_path_factory.mktemp("det_export_log") / "stdout.txt"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["export", "-c", str(tiny_ava_config), "-w", str(weights), "--output", str(out),
                     "--format", "onnx"]) == 0
    capture.write_text(buffer.getvalue())
    return out, buffer.getvalue()


def run_detect(capsys, *args: str) -> Tuple[int, str, str]:
    code = main(["detect", "--threads", "1", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def json_lines(text: str) -> List[Dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


# ---- export ------------------------------------------------------------------------------------------------------
def test_export_writes_a_detector_with_box_inputs(exported):
    folder, printed = exported
    assert sorted(p.name for p in folder.iterdir()) == ["infer_cfg.yml", "model.json", "model.onnx",
                                                        "model.pdiparams"]
    cfg = yaml.safe_load((folder / "infer_cfg.yml").read_text())
    assert cfg["task"] == "detection"
    assert [(i["name"], i["shape"]) for i in cfg["inputs"]] == [
        ("slow", [-1, 3, 2, -1, -1]), ("fast", [-1, 3, 8, -1, -1]), ("proposals", [-1, 4]), ("rois_num", [-1])]
    assert cfg["inputs"][3]["dtype"] == "int32"
    assert cfg["keyframes"] == {"clip_len": 8, "frame_interval": 2, "fps": 30, "action_thr": 0.0,
                                "action_ids": list(range(1, CLASSES)), "short_side": 64}
    assert cfg["label_names"][1] == "stand" and len(cfg["label_names"]) == CLASSES
    assert cfg["pipeline"]["sampler"]["name"] == "SampleAVAFrames" and cfg["alpha"] == 4
    assert cfg["folded_batchnorms"] > 0 and cfg["check_max_abs_diff"] <= 1e-4
    assert cfg["onnx_check_max_abs_diff"] <= 1e-4 and cfg["onnx_clips_per_run"] == 1
    assert "per-RoI action probabilities" in printed and "max abs difference" in printed


def test_the_exported_program_matches_forward_rois_on_a_real_clip(exported, weights, tiny_ava_config,
                                                                   tiny_ava_dataset):
    """Paddle Inference (BN folded) and onnxruntime against dygraph forward_rois on a decoded clip and GT boxes."""
    import paddle

    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.data import open_video
    from paddlevideo_slowfast.deploy.detector import Detector
    from paddlevideo_slowfast.interop.weights import load_weights
    from paddlevideo_slowfast.modeling import build_model

    model = build_model(load_config(str(tiny_ava_config)).MODEL)
    load_weights(model, str(weights), allow_head_reinit=False)
    model.eval()
    with open_video(str(tiny_ava_dataset / "videos" / "val_0000.mp4")) as reader:
        frames = reader.read(np.arange(52, 68, 2))
    boxes = np.array([[0.2, 0.3, 0.5, 0.7], [0.6, 0.1, 0.9, 0.5], [0.0, 0.0, 1.0, 1.0]])
    detector = Detector(exported[0], threads=1)
    inputs = detector.inputs(frames, boxes)
    with paddle.no_grad():
        reference = model.forward_rois(*(paddle.to_tensor(x) for x in inputs)).numpy()
    assert reference.shape == (3, CLASSES) and reference.std() > 0.05
    np.testing.assert_allclose(detector.score_clip(frames, boxes), reference, atol=1e-4)
    onnx = Detector(exported[0], runtime="onnx", threads=1)
    np.testing.assert_allclose(onnx.score_clip(frames, boxes), reference, atol=1e-4)


# ---- detect --------------------------------------------------------------------------------------------------------
def test_detect_with_ground_truth_boxes_gives_one_record_per_person_and_keyframe(exported, tiny_ava_dataset, capsys):
    from paddlevideo_slowfast.data.ava import read_annotations

    notes = tiny_ava_dataset / "annotations"
    video = tiny_ava_dataset / "videos" / "val_0000.mp4"
    code, out, err = run_detect(capsys, "--model", str(exported[0]), "--video", str(video), "--boxes",
                                str(notes / "ava_val.csv"), "--video-start", str(VIDEO_START), "--json")
    assert code == 0
    records = json_lines(out)
    assert len(records) == len(out.strip().splitlines())  # stdout holds the records only
    truth = {(r.timestamp, r.box) for r in read_annotations(notes / "ava_val.csv").records if r.video_id == "val_0000"}
    assert sorted((r["timestamp"], tuple(r["box"])) for r in records) == sorted((float(t), b) for t, b in truth)
    for record in records:
        assert set(record) == {"timestamp", "box", "score", "actions"} and record["score"] == 1.0
        scores = [a["score"] for a in record["actions"]]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True)  # --top-k 3 by default
        assert all(set(a) == {"label", "action_id", "score"} and 1 <= a["action_id"] < CLASSES
                   for a in record["actions"])
    assert "keyframes" in err


def test_detect_frame_map_equals_paddlevideo_test(exported, weights, tiny_ava_config, tiny_ava_dataset, capsys,
                                                  tmp_path):
    """Same model, same boxes (the val proposals at the configs' person threshold): the AVA result rows of `detect`
    score the frame-mAP `paddlevideo test` reports, and their rows agree one by one."""
    from paddlevideo_slowfast.data.ava import read_annotations, read_excluded, read_label_map
    from paddlevideo_slowfast.metrics.ava import BoxTable, frame_map, read_results, write_results

    assert main(["test", "-c", str(tiny_ava_config), "-w", str(weights), "--output", str(tmp_path / "test"),
                 "--json"]) == 0
    tested = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = []
    for video in sorted((tiny_ava_dataset / "videos").glob("val_*.mp4")):
        code, out, _ = run_detect(capsys, "--model", str(exported[0]), "--video", str(video), "--boxes",
                                  str(tiny_ava_dataset / "annotations" / "ava_dense_proposals_val.pkl"),
                                  "--video-start", str(VIDEO_START), "--det-threshold", str(PERSON_THRESHOLD),
                                  "--top-k", str(CLASSES - 1), "--json")
        assert code == 0
        rows += [(video.stem, int(round(r["timestamp"])), r["box"], a["action_id"], a["score"])
                 for r in json_lines(out) for a in r["actions"]]
    csv_path = write_results(tmp_path / "detect.csv", BoxTable.build(*zip(*rows)))
    notes = tiny_ava_dataset / "annotations"
    excluded = read_excluded(notes / "ava_val_excluded_timestamps.csv")
    result = frame_map(read_annotations(notes / "ava_val.csv").records, read_results(csv_path).table,
                       read_label_map(notes / "ava_action_list.pbtxt"), excluded)
    assert tested["keyframes"] >= 2 and 0 < tested["mAP@0.5IOU"] < 1
    assert result.mean_ap == pytest.approx(tested["mAP@0.5IOU"], abs=1e-9)

    def by_key(table):
        return {(v, int(t), int(a), tuple(np.round(b, 4))): s for v, t, b, a, s in
                zip(table.video_id, table.timestamp, table.boxes, table.action_id, table.score)
                if (str(v), int(t)) not in excluded}
    ours, theirs = by_key(read_results(csv_path).table), by_key(read_results(tested["report"]["detections_csv"]).table)
    assert ours.keys() == theirs.keys() and len(ours) == tested["detections"]
    assert max(abs(ours[k] - theirs[k]) for k in ours) < 1e-4


def test_a_person_detector_gets_each_keyframe_and_frames_are_decoded_once(exported, tiny_ava_dataset, tmp_path):
    """A callable box source sees every keyframe at full resolution; each frame is decoded at most once and the
    frames held never exceed one keyframe's span (independent of the video's length), drawing or not."""
    from paddlevideo_slowfast.deploy.detector import Detector

    seen: List[Tuple[int, ...]] = []

    def finder(frame: np.ndarray) -> np.ndarray:
        seen.append(frame.shape)
        return np.array([[0.1, 0.1, 0.6, 0.9, 0.8], [0.5, 0.2, 0.9, 0.7, 0.3]])

    detector = Detector(exported[0], threads=1)
    video = tiny_ava_dataset / "videos" / "val_0001.mp4"
    run = detector.run(video, finder, fps=4.0, top_k=2, det_threshold=0.5)
    records = list(run)
    assert seen == [(64, 64, 3)] * run.keyframes and run.keyframes == 20  # 5 s at 4 keyframes a second
    assert [r.timestamp for r in records] == [k / 4 for k in range(20)]  # the 0.3 box is under the threshold
    assert all(len(r.actions) == 2 for r in records)
    assert run.decoded <= 150 and 0 < run.peak_frames <= run.span <= 16
    drawn = detector.run(video, finder, fps=1.0, out=str(tmp_path / "drawn.mp4"))
    list(drawn)
    assert drawn.decoded == 150 and drawn.peak_frames <= drawn.span <= 16 + 30  # a clip and a second of frames


def test_annotated_output_video(exported, tiny_ava_dataset, capsys, tmp_path):
    import cv2

    out = tmp_path / "annotated.mp4"
    notes = tiny_ava_dataset / "annotations"
    code, stdout, _ = run_detect(capsys, "--model", str(exported[0]), "--video",
                                 str(tiny_ava_dataset / "videos" / "val_0000.mp4"), "--boxes",
                                 str(notes / "ava_val.csv"), "--video-start", "900", "--out", str(out))
    assert code == 0 and str(out) in stdout and "codec" in stdout
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 150
    capture.release()


def test_detect_with_an_exported_person_detector(exported, tiny_ava_dataset, capsys, tmp_path):
    """--detector: a PaddleDetection-style export (rows [class, score, x1, y1, x2, y2] in pixels + the row count)."""
    import paddle

    class Constant(paddle.nn.Layer):
        def __init__(self):
            super().__init__()  # rows [class, score, x1, y1, x2, y2], the box normalised here, in pixels out
            self.register_buffer("rows", paddle.to_tensor([[0.0, 0.9, 0.1, 0.2, 0.5, 0.8], [1.0, 0.95, 0.5, 0.5, 0.9, 0.9],
                                                           [0.0, 0.7, 0.5, 0.1, 0.9, 0.6]]))

        def forward(self, image, im_shape, scale_factor):
            size = (im_shape / scale_factor).flip([1]).tile([1, 2])  # frame [w, h, w, h]
            rows = self.rows + image.mean() * 0.0  # jit.save keeps only inputs the output reads
            return paddle.concat([rows[:, :2], rows[:, 2:] * size], axis=1), paddle.full([1], 3, dtype="int32")

    folder = tmp_path / "person"
    specs = [paddle.static.InputSpec([1, 3, None, None], "float32", "image"),
             paddle.static.InputSpec([1, 2], "float32", "im_shape"),
             paddle.static.InputSpec([1, 2], "float32", "scale_factor")]
    layer = Constant()
    layer.eval()
    paddle.jit.save(paddle.jit.to_static(layer, input_spec=specs, full_graph=True), str(folder / "model"))
    (folder / "infer_cfg.yml").write_text(yaml.safe_dump({
        "mode": "paddle", "arch": "YOLO", "label_list": ["person", "car"],
        "Preprocess": [{"type": "Resize", "target_size": [32, 32], "keep_ratio": False, "interp": 2},
                       {"type": "NormalizeImage", "mean": [0.5] * 3, "std": [0.5] * 3, "is_scale": True},
                       {"type": "Permute"}]}))
    code, out, err = run_detect(capsys, "--model", str(exported[0]), "--video",
                                str(tiny_ava_dataset / "videos" / "val_0000.mp4"), "--detector", str(folder),
                              "--det-threshold", "0.8", "--json")
    assert code == 0, err
    records = json_lines(out)
    assert [r["timestamp"] for r in records] == [0.0, 1.0, 2.0, 3.0, 4.0]  # one person a keyframe: class 0, >= 0.8
    np.testing.assert_allclose(records[0]["box"], [0.1, 0.2, 0.5, 0.8], atol=1e-5)
    assert records[0]["score"] == pytest.approx(0.9)


# ---- errors --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("content, expected", [
    ("val_0000,0902,0.1,0.2,0.5\n", ":1: 5 columns"),
    ("val_0000,0902,0.1,0.2,1.5,0.9,1\n", "not normalised"),
    ('{"timestamp": 902, "box": [0.5, 0.2, 0.1, 0.9]}\n', "x2 < x1"),
    ("other,0902,0.1,0.2,0.5,0.9,1\n", "no boxes of video 'val_0000'"),
])
def test_a_bad_box_file_is_one_line_and_exit_2(exported, tiny_ava_dataset, capsys, tmp_path, content, expected):
    boxes = tmp_path / "boxes.csv"
    boxes.write_text(content)
    code, out, err = run_detect(capsys, "--model", str(exported[0]), "--video",
                                str(tiny_ava_dataset / "videos" / "val_0000.mp4"), "--boxes", str(boxes), "--json")
    assert code == 2 and out == ""
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and expected in lines[0] and str(boxes) in lines[0]


def test_a_bad_video_is_one_line_and_exit_1(exported, tiny_ava_dataset, capsys, tmp_path):
    broken = tmp_path / "val_0000.mp4"
    broken.write_bytes(b"not a video" * 100)
    code, out, err = run_detect(capsys, "--model", str(exported[0]), "--video", str(broken), "--boxes",
                                str(tiny_ava_dataset / "annotations" / "ava_val.csv"), "--video-start", "900",
                                "--json")
    assert code == 1 and out == ""
    assert [line for line in err.splitlines() if line.startswith("error:")] == \
        [line for line in err.splitlines() if str(broken) in line]


def test_recognition_and_detection_models_are_not_confused(exported, tmp_path):
    import shutil

    from paddlevideo_slowfast.deploy import Predictor
    from paddlevideo_slowfast.deploy.detector import Detector
    from paddlevideo_slowfast.errors import ConfigError

    with pytest.raises(ConfigError, match="paddlevideo detect"):
        Predictor(exported[0])
    other = shutil.copytree(exported[0], tmp_path / "recognition")
    cfg = other / "infer_cfg.yml"
    cfg.write_text(cfg.read_text().replace("task: detection", "task: recognition"))
    with pytest.raises(ConfigError, match="recognition model"):
        Detector(other)
    with pytest.raises(SystemExit) as exit_info:  # neither --boxes nor --detector: a usage error
        main(["detect", "--model", str(exported[0]), "--video", "v.mp4"])
    assert exit_info.value.code == 2


# ---- keyframe plans and box files (no model) ------------------------------------------------------------------------
def test_keyframe_plans_follow_ava_test_sampling_and_partition_the_frames():
    from paddlevideo_slowfast.data.ava.decode import video_frame_index
    from paddlevideo_slowfast.data.ava.sampling import SampleAVAFrames
    from paddlevideo_slowfast.deploy.keyframe_clips import plan_keyframes

    plans = plan_keyframes(100, 25.0, 1.0, clip_len=32, frame_interval=4, grid_fps=30, show=True)
    assert [p.seconds for p in plans] == [0.0, 1.0, 2.0, 3.0]  # 4 s of video
    for plan in plans:  # the dataset's test clip of second 900 + k of a cut starting at 900, 4 s long
        results = SampleAVAFrames(32, 4, test_mode=True)({"fps": 30, "timestamp_start": 900, "timestamp_end": 904,
                                                           "timestamp": 900 + plan.index})
        np.testing.assert_array_equal(plan.clip, video_frame_index(results["frame_inds"], 30, 25.0, 0.0, 100))
    assert plans[-1].clip.max() == 98 and plans[0].clip.min() == 0  # PaddleVideo's clamp to [1, shot - 1]
    shown = [i for p in plans for i in range(*p.shown)]
    assert shown == list(range(100))  # every frame drawn once, with the keyframe nearest it
    assert plans[1].shown == (13, 38)
    scored = plan_keyframes(100, 25.0, 2.0, clip_len=8, frame_interval=4, grid_fps=30, scored={3})
    assert [p.clip is not None for p in scored] == [False, False, False, True, False, False, False, False]


def test_box_files_in_each_format(tmp_path):
    from paddlevideo_slowfast.data.ava import write_proposals
    from paddlevideo_slowfast.deploy.person_boxes import read_box_file

    csv_file = tmp_path / "boxes.csv"
    csv_file.write_text("clip,0902,0.1,0.2,0.5,0.9,12,3\n"      # AVA ground truth: person id 3
                        "clip,0902,0.1,0.2,0.5,0.9,17,3\n"      # the same person, another action
                        "clip,0902,0.5,0.2,0.9,0.9,4,0.750\n"   # a result row: the 8th column is a score
                        "other,0902,0.0,0.0,1.0,1.0\n"          # another video
                        "clip,0903,0.2,0.2,0.6,0.6\n")           # a bare box
    timeline = read_box_file(csv_file, "clip")
    assert sorted(timeline.boxes) == [902.0, 903.0]
    np.testing.assert_allclose(timeline.boxes[902.0], [[0.1, 0.2, 0.5, 0.9, 1.0], [0.5, 0.2, 0.9, 0.9, 0.75]])
    assert timeline.by_keyframe(900.0, 1.0, 5).keys() == {2, 3}
    assert timeline.by_keyframe(900.0, 1.0, 3).keys() == {2}  # 903 is past a 3-keyframe video
    lines = tmp_path / "boxes.jsonl"
    lines.write_text('{"timestamp": 2.5, "box": [0.1, 0.1, 0.4, 0.4], "score": 0.6, "actions": []}\n'
                     '{"timestamp": 2.5, "box": [0.5, 0.5, 0.9, 0.9]}\n')
    assert read_box_file(lines, "any").by_keyframe(0.0, 2.0, 10).keys() == {5}
    pickle_file = tmp_path / "proposals.pkl"
    write_proposals(pickle_file, {"clip,0902": np.array([[0.1, 0.1, 0.3, 0.3, 0.95]]), "x,0902": np.zeros((1, 5))})
    np.testing.assert_allclose(read_box_file(pickle_file, "clip").boxes[902.0], [[0.1, 0.1, 0.3, 0.3, 0.95]])
