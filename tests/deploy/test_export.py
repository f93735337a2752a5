"""Export: files and infer_cfg.yml, Paddle Inference parity with dygraph (oneDNN on and off), legacy format,
ONNX parity (checked at export too), dynamic H/W, one-pathway models, and the consistency checks of the config."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from paddlevideo_slowfast.deploy.infer_cfg import read_infer_config
from paddlevideo_slowfast.errors import ConfigError

from deploy_helpers import ALPHA, CROP, FRAMES, NUM_CLASSES

TOLERANCE = 1e-4


def test_export_writes_model_and_infer_cfg(exported, embedded):
    names = sorted(p.name for p in exported.model_dir.iterdir())
    assert names == ["infer_cfg.yml", "model.json", "model.onnx", "model.pdiparams"]
    info = read_infer_config(exported.model_dir)
    assert info.model_format == "pir" and info.model_file == "model.json" and info.onnx_file == "model.onnx"
    assert info.inputs == [{"name": "slow", "shape": [-1, 3, FRAMES // ALPHA, CROP, CROP]},
                           {"name": "fast", "shape": [-1, 3, FRAMES, CROP, CROP]}]
    assert (info.alpha, info.num_frames, info.crop_size) == (ALPHA, FRAMES, CROP)
    assert info.test_views == (10, 3) and info.num_classes == NUM_CLASSES
    assert info.label_names == (embedded / "label_names.txt").read_text().split()
    assert [list(stage)[0] for stage in info.pipeline["transform"]] == [
        "JitterScale", "MultiCrop", "Image2Array", "Normalization", "PackOutput"]
    assert info.extra["folded_batchnorms"] > 0
    assert exported.max_abs_diff < TOLERANCE


def test_probabilities_are_peaked(dygraph):
    # otherwise the parity bound below would hold for any near-uniform output
    assert dygraph.max(axis=1).min() > 0.3
    np.testing.assert_allclose(dygraph.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("onednn", [True, False], ids=["onednn", "no-onednn"])
def test_paddle_inference_equals_dygraph(exported, clips, dygraph, onednn):
    from paddlevideo_slowfast.deploy.runtime import PaddleRunner

    runner = PaddleRunner(exported.model_file, exported.params_file, onednn=onednn, threads=2)
    assert runner.input_names == ["slow", "fast"]
    out = runner(*clips)
    assert out.shape == (2, NUM_CLASSES)
    assert np.abs(out - dygraph).max() < TOLERANCE
    assert np.abs(runner(clips[0][:1], clips[1][:1]) - dygraph[:1]).max() < TOLERANCE  # dynamic batch


def test_onnx_equals_dygraph(exported, clips, dygraph):
    pytest.importorskip("onnxruntime")
    from paddlevideo_slowfast.deploy.onnx import OnnxRunner

    runner = OnnxRunner(exported.onnx_file, threads=2)
    assert sorted(i.name for i in runner.session.get_inputs()) == ["fast", "slow"]
    assert np.abs(runner(*clips) - dygraph).max() < TOLERANCE


def test_legacy_format_loads_in_paddle_inference(tmp_path, tiny_cfg, tiny_model, clips, dygraph):
    from paddlevideo_slowfast.deploy import ExportOptions, export_model
    from paddlevideo_slowfast.deploy.runtime import PaddleRunner

    result = export_model(tiny_cfg, None, tmp_path, ExportOptions(legacy=True, check=False), model=tiny_model)
    assert result.model_file.name == "model.pdmodel" and not (tmp_path / "model.json").exists()
    assert read_infer_config(tmp_path).model_format == "legacy"
    out = PaddleRunner(result.model_file, result.params_file, threads=2)(*clips)
    assert np.abs(out - dygraph).max() < TOLERANCE


def test_export_leaves_the_given_model_unfolded(exported, tiny_model):
    import paddle

    assert any(isinstance(layer, paddle.nn.BatchNorm3D) for layer in tiny_model.sublayers())


def test_dynamic_hw_runs_at_two_sizes(tmp_path, tiny_cfg, tiny_model):
    import paddle

    from paddlevideo_slowfast.deploy import ExportOptions, export_model
    from paddlevideo_slowfast.deploy.runtime import PaddleRunner

    result = export_model(tiny_cfg, None, tmp_path, ExportOptions(dynamic_hw=True, check=False), model=tiny_model)
    assert result.info.inputs[1]["shape"] == [-1, 3, FRAMES, -1, -1] and result.info.crop_size is None
    runner = PaddleRunner(result.model_file, result.params_file, threads=2)
    rng = np.random.default_rng(0)
    for size in (CROP, CROP + 32):
        slow = rng.standard_normal((1, 3, FRAMES // ALPHA, size, size)).astype(np.float32)
        fast = rng.standard_normal((1, 3, FRAMES, size, size)).astype(np.float32)
        with paddle.no_grad():
            want = tiny_model([paddle.to_tensor(slow), paddle.to_tensor(fast)], mode="infer").numpy()
        assert np.abs(runner(slow, fast) - want).max() < TOLERANCE


def test_export_cli_with_weights(tmp_path, tiny_cfg, tiny_weights, tiny_override_list, repo_root, capsys):
    from paddlevideo_slowfast.cli import main

    argv = ["export", "-c", str(repo_root / "configs" / "slowfast.yaml"), "-w", str(tiny_weights),
            "--output", str(tmp_path / "out"), "-o", *tiny_override_list]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "model.json" in out and "infer_cfg.yml" in out and "max abs difference" in out
    assert read_infer_config(tmp_path / "out").num_classes == NUM_CLASSES


def test_inference_section_must_agree_with_the_pipeline(tmp_path, tiny_cfg):
    from paddlevideo_slowfast.deploy.infer_cfg import from_training_config

    cfg = copy.deepcopy(tiny_cfg)
    cfg["INFERENCE"]["alpha"] = ALPHA * 2
    with pytest.raises(ConfigError, match="INFERENCE.alpha .* disagrees with PIPELINE.test"):
        from_training_config(cfg, model_file="m.json", params_file="m.pdiparams", model_format="pir")


def test_label_count_must_match_the_classifier(tmp_path, tiny_cfg, tiny_model):
    from paddlevideo_slowfast.deploy import ExportOptions, export_model

    with pytest.raises(ConfigError, match="3 label names for a 10-class model"):
        export_model(tiny_cfg, None, tmp_path, ExportOptions(check=False), model=tiny_model,
                     label_names=["a", "b", "c"])


def test_onnx_is_checked_at_export(exported, tiny_cfg, tiny_model, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    from paddlevideo_slowfast.deploy import ExportOptions, export_model
    from paddlevideo_slowfast.deploy import onnx as onnx_module

    assert exported.onnx_max_abs_diff is not None and exported.onnx_max_abs_diff < TOLERANCE
    assert read_infer_config(exported.model_dir).extra["onnx_check_max_abs_diff"] == exported.onnx_max_abs_diff

    class Broken(onnx_module.OnnxRunner):  # a conversion that lost the softmax, say
        def __call__(self, *clips):
            return super().__call__(*clips) * 0.5

    monkeypatch.setattr(onnx_module, "OnnxRunner", Broken)
    with pytest.raises(ConfigError, match=r"differs from dygraph .*model\.onnx.*EXPORT\.check"):
        export_model(tiny_cfg, None, tmp_path, ExportOptions(onnx=True), model=tiny_model)


@pytest.mark.parametrize("backbone, pathway", [("ResNetSlowOnly", "slow"), ("ResNetFastOnly", "fast")])
def test_one_pathway_models_export_with_their_one_input(backbone, pathway, tmp_path, repo_root, tiny_override_list,
                                                         embedded, capfd):
    """A Slow-only or Fast-only model reads one clip: exported (PIR + ONNX, and legacy) with that input alone,
    recorded in infer_cfg.yml, and predict feeds it, in Paddle Inference and in onnxruntime."""
    import paddle

    from paddlevideo_slowfast.cli import main
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.deploy import ExportOptions, Predictor, export_model
    from paddlevideo_slowfast.deploy.onnx import onnxruntime_available
    from paddlevideo_slowfast.deploy.views import video_views
    from paddlevideo_slowfast.modeling import build_model

    cfg = load_config(str(repo_root / "configs" / "slowfast.yaml"),
                      tiny_override_list + [f"MODEL.backbone.name={backbone}"])
    model = build_model(cfg.MODEL)
    model.eval()
    result = export_model(cfg, None, tmp_path / "pir", ExportOptions(onnx=True), model=model)
    frames = FRAMES // ALPHA if pathway == "slow" else FRAMES
    info = read_infer_config(tmp_path / "pir")
    assert info.inputs == [{"name": pathway, "shape": [-1, 3, frames, CROP, CROP]}] and info.pathways == [pathway]
    assert result.max_abs_diff < TOLERANCE
    legacy = export_model(cfg, None, tmp_path / "legacy", ExportOptions(legacy=True), model=model)
    assert legacy.max_abs_diff < TOLERANCE and legacy.info.pathways == [pathway]

    capfd.readouterr()  # the exports' notes
    video = embedded / "val" / "left" / "0000.mp4"
    predictor = Predictor(tmp_path / "pir", threads=2)
    slow, fast = video_views(predictor.pipeline, str(video), (1, 1))
    with paddle.no_grad():
        want = model([paddle.to_tensor(slow), paddle.to_tensor(fast)], mode="infer").numpy().mean(axis=0)
    runtimes = ["paddle", "onnx"] if onnxruntime_available() else ["paddle"]
    for folder, runtime in [("pir", r) for r in runtimes] + [("legacy", "paddle")]:
        assert main(["predict", "--model", str(tmp_path / folder), "--runtime", runtime, "--json",
                     "--top-k", str(NUM_CLASSES), "--threads", "2", "--video", str(video)]) == 0
        top = json.loads(capfd.readouterr().out)["top_k"]
        got = np.array([e["score"] for e in sorted(top, key=lambda e: e["class_id"])])
        assert np.abs(got - want).max() < TOLERANCE, (folder, runtime)


def test_a_missing_label_file_names_its_config_key(tmp_path, repo_root, tiny_override_list, tiny_model):
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.deploy import ExportOptions, export_model

    config = tmp_path / "labels.yaml"
    config.write_text(f"_BASE_: {repo_root / 'configs' / 'slowfast.yaml'}\n"
                      f"DATASET: {{test: {{label_file: {tmp_path / 'nope.txt'}}}}}\n")
    overrides = [o for o in tiny_override_list if not o.startswith("+DATASET.test.label_file")]
    cfg = load_config(str(config), overrides)
    with pytest.raises(ConfigError) as error:
        export_model(cfg, None, tmp_path / "out", ExportOptions(check=False), model=tiny_model)
    assert "nope.txt" in str(error.value) and "key: DATASET.test.label_file" in str(error.value)
    assert f"file: {config}" in str(error.value)
