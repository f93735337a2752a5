"""`paddlevideo predict` and `Predictor`: top-k text and JSON lines, determinism, bad videos, folders and lists
(broken links reported), the --windows timeline, a PaddleVideo-style export run with -c, --runtime onnx, usage
errors, and runtime errors that say what to do."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from paddlevideo_slowfast.cli import main

from deploy_helpers import NUM_CLASSES


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """3.2 s of the embedded 'right' class at 30 fps, 64 px."""
    from paddlevideo_slowfast.data.synthetic import render_video
    from paddlevideo_slowfast.data.video_writer import write_video

    frames = render_video("right", np.random.default_rng(1), size=64, frames=96)
    return write_video(tmp_path_factory.mktemp("long") / "long.mp4", frames, fps=30)


@pytest.fixture(scope="module")
def bad_video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bad") / "not_a_video.mp4"
    path.write_text("this is text, not H.264\n")
    return path


def _json_lines(text: str):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_predict_prints_top_k(exported, embedded, capsys):
    video = embedded / "val" / "left" / "0000.mp4"
    assert main(["predict", "--model", str(exported.model_dir), "--video", str(video), "--top-k", "3",
                 "--threads", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(video)
    assert [line.split()[0] for line in lines[1:]] == ["1.", "2.", "3."]
    names = (embedded / "label_names.txt").read_text().split()
    assert all(line.split()[1] in names for line in lines[1:])
    scores = [float(line.split()[-1]) for line in lines[1:]]
    assert scores == sorted(scores, reverse=True)


def test_json_is_deterministic_and_bad_videos_do_not_stop_the_batch(exported, embedded, bad_video, capfd):
    videos = [embedded / "val" / "up" / "0000.mp4", bad_video, embedded / "missing.mp4",
              embedded / "val" / "down" / "0000.mp4"]
    argv = ["predict", "--model", str(exported.model_dir), "--json", "--video", *map(str, videos)]
    outputs = []
    for _ in range(2):
        assert main(argv) == 1  # some videos failed
        captured = capfd.readouterr()
        outputs.append(captured.out)
        assert "2 of 4 videos could not be classified" in captured.err
    assert outputs[0] == outputs[1]
    records = _json_lines(outputs[0])  # stdout holds JSON only: Paddle's C++ notes went to stderr
    assert [r["video"] for r in records] == list(map(str, videos))
    assert [("error" in r) for r in records] == [False, True, True, False]
    assert "no such file" in records[2]["error"]
    good = records[0]
    assert len(good["top_k"]) == 5 and {"class_id", "label", "score"} <= set(good["top_k"][0])


def test_folder_and_list_file(exported, embedded, tmp_path, capfd):
    listing = tmp_path / "videos.list"
    listing.write_text(f"{embedded / 'val' / 'left' / '0000.mp4'} 0\n\n# comment\n")
    argv = ["predict", "--model", str(exported.model_dir), "--json", "--top-k", "1",
            "--video", str(embedded / "val" / "blink_fast"), str(listing)]
    assert main(argv) == 0
    records = _json_lines(capfd.readouterr().out)
    assert [Path(r["video"]).parent.name for r in records] == ["blink_fast", "left"]


def test_predictor_equals_dygraph_on_the_same_views(exported, tiny_model, embedded):
    import paddle

    from paddlevideo_slowfast.deploy import Predictor
    from paddlevideo_slowfast.deploy.views import video_views

    video = embedded / "val" / "rotate_cw" / "0000.mp4"
    predictor = Predictor(exported.model_dir, threads=2, views="2x3", batch_size=4)
    prediction = predictor.predict(video, top_k=NUM_CLASSES)
    slow, fast = video_views(predictor.pipeline, str(video), (2, 3))
    assert slow.shape[0] == fast.shape[0] == 6
    with paddle.no_grad():
        want = tiny_model([paddle.to_tensor(slow), paddle.to_tensor(fast)], mode="infer").numpy().mean(axis=0)
    assert np.abs(prediction.scores - want).max() < 1e-4
    assert [e["class_id"] for e in prediction.top_k] == list(np.argsort(-want, kind="stable"))
    assert predictor.labels == (embedded / "label_names.txt").read_text().split()


def test_windows_timeline(exported, long_video, capfd):
    argv = ["predict", "--model", str(exported.model_dir), "--json", "--windows", "1", "--top-k", "2",
            "--video", str(long_video)]
    assert main(argv) == 0
    records = _json_lines(capfd.readouterr().out)
    assert [(r["start"], r["end"]) for r in records] == [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 3.2)]
    assert all(len(r["top_k"]) == 2 and r["video"] == str(long_video) for r in records)
    assert main(argv[:3] + argv[4:]) == 0  # text: one line per window under the video's name
    lines = capfd.readouterr().out.splitlines()
    assert lines[0] == str(long_video) and len(lines) == 5 and lines[1].strip().startswith("0.00-1.00")


def test_paddlevideo_style_export_runs_with_its_config(tmp_path, tiny_cfg, tiny_model, embedded, capfd):
    from paddlevideo_slowfast.config import dump_config
    from paddlevideo_slowfast.deploy import ExportOptions, export_model
    from paddlevideo_slowfast.deploy.export import PADDLEVIDEO_INPUT_NAMES

    options = ExportOptions(input_names=PADDLEVIDEO_INPUT_NAMES, write_infer_cfg=False, stem="SlowFast", check=False)
    result = export_model(tiny_cfg, None, tmp_path / "pv", options, model=tiny_model)
    assert sorted(p.name for p in (tmp_path / "pv").iterdir()) == ["SlowFast.json", "SlowFast.pdiparams"]
    config = tmp_path / "slowfast_tiny.yaml"
    config.write_text(dump_config(tiny_cfg))
    video = str(embedded / "val" / "left" / "0000.mp4")
    base = ["predict", "--json", "--video", video]
    assert main(base + ["--model", str(result.model_dir), "-c", str(config)]) == 0
    with_config = _json_lines(capfd.readouterr().out)
    assert main(base + ["--model", str(tmp_path / "pv")]) == 2  # no infer_cfg.yml and no -c
    assert "infer_cfg.yml" in capfd.readouterr().err
    from paddlevideo_slowfast.deploy import Predictor

    ours = Predictor(tmp_path / "pv", config=config).predict(video)
    assert with_config[0]["top_k"] == ours.top_k
    names = (embedded / "label_names.txt").read_text().split()  # DATASET.test.label_file of the config
    assert [e["label"] for e in ours.top_k] == [names[e["class_id"]] for e in ours.top_k]
    assert main(["predict", "--video", video, "--model", str(result.model_dir), "-c", str(config)]) == 0
    text = capfd.readouterr().out
    assert "class " not in text and names[ours.top_k[0]["class_id"]] in text


@pytest.mark.parametrize("flags, message", [
    (["--trt", "fp16"], "TensorRT runs on the GPU only"),
    (["--device", "gpu"], "this Paddle build has no GPU support"),
    (["--views", "10by3"], "is not TEMPORALxSPATIAL"),
])
def test_runtime_errors_are_clear(exported, embedded, capfd, flags, message):
    pytest.importorskip("paddle")
    import paddle

    if flags == ["--device", "gpu"] and paddle.is_compiled_with_cuda():
        pytest.skip("this Paddle build has CUDA")
    argv = ["predict", "--model", str(exported.model_dir), "--video", str(embedded / "val" / "up" / "0000.mp4")]
    assert main(argv + flags) == 2
    assert message in capfd.readouterr().err


def test_onnx_runtime_gives_the_paddle_numbers(exported, embedded, capfd):
    pytest.importorskip("onnxruntime")
    video = str(embedded / "val" / "rotate_ccw" / "0000.mp4")
    records = {}
    for runtime in ("paddle", "onnx"):
        assert main(["predict", "--model", str(exported.model_dir), "--runtime", runtime, "--json", "--views", "2x1",
                     "--top-k", str(NUM_CLASSES), "--video", video]) == 0
        records[runtime] = json.loads(capfd.readouterr().out)["top_k"]
    assert [e["class_id"] for e in records["onnx"]][:3] == [e["class_id"] for e in records["paddle"]][:3]
    for a, b in zip(sorted(records["onnx"], key=lambda e: e["class_id"]),
                    sorted(records["paddle"], key=lambda e: e["class_id"])):
        assert a["label"] == b["label"] and abs(a["score"] - b["score"]) < 1e-4


def test_onnx_runtime_errors_are_clear(exported, embedded, tmp_path, tiny_cfg, tiny_model, capfd, monkeypatch):
    from paddlevideo_slowfast.deploy import ExportOptions, export_model

    video = str(embedded / "val" / "up" / "0000.mp4")
    plain = export_model(tiny_cfg, None, tmp_path / "plain", ExportOptions(check=False), model=tiny_model)
    assert main(["predict", "--model", str(plain.model_dir), "--runtime", "onnx", "--video", video]) == 2
    assert "holds no ONNX model" in capfd.readouterr().err
    assert main(["predict", "--model", str(exported.model_dir), "--runtime", "onnx", "--device", "gpu",
                 "--video", video]) == 2
    assert "--runtime onnx runs on the CPU" in capfd.readouterr().err
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed: importing it fails
    assert main(["predict", "--model", str(exported.model_dir), "--runtime", "onnx", "--video", video]) == 2
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "needs onnxruntime, which is not installed" in errors[0]


@pytest.mark.parametrize("flags", [["--windows", "0"], ["--windows", "-2"], ["--top-k", "0"], ["--top-k", "-1"],
                                   ["--batch-size", "0"]])
def test_non_positive_counts_are_usage_errors(flags, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["predict", "--model", "m", "--video", "v.mp4", *flags])
    assert exit_.value.code == 2
    assert "must be greater than 0" in capsys.readouterr().err


def test_a_broken_link_in_a_folder_is_reported(exported, embedded, tmp_path, capfd):
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "a.mp4").symlink_to(embedded / "val" / "left" / "0000.mp4")
    (folder / "b.mp4").symlink_to(tmp_path / "gone.mp4")
    assert main(["predict", "--model", str(exported.model_dir), "--top-k", "1", "--video", str(folder)]) == 1
    captured = capfd.readouterr()
    assert str(folder / "a.mp4") in captured.out
    errors = [line for line in captured.err.splitlines() if "b.mp4" in line]
    assert len(errors) == 1 and "broken symbolic link" in errors[0]
    assert "1 of 2 videos could not be classified" in captured.err
