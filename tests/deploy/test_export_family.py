"""Export and predict of the R101 / 16x8 / non-local configs, on a tiny version of their geometry: per-stage temporal
kernel counts, a res5 dilated at stride 1, and non-local blocks with groups and pooled keys in both pathways.

`paddlevideo export --format onnx` of configs/slowfast_r101_nl_16x8.yaml folds every BatchNorm (the non-local ones
too) and passes both parity checks at export; Paddle Inference and onnxruntime equal dygraph on a batch; `predict`
runs the export in both runtimes; the softmax instantiation, the legacy program and a dynamic H, W export too.
The full-size 16x8 R101+NL export is checked by scripts/bench_r101.py (a minute and more on 2 cores)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List

import numpy as np
import pytest

from paddlevideo_slowfast.deploy.infer_cfg import read_infer_config

from deploy_helpers import ALPHA, CROP, FRAMES, NUM_CLASSES

TOLERANCE = 1e-4
CONFIG = "slowfast_r101_nl_16x8.yaml"

# depth 18 (2 blocks a stage); Slow runs 2 frames and Fast 8 at 64 px, res5 keeps res4's 4x4 map
FAMILY = [
    "MODEL.backbone.depth=18",
    "MODEL.backbone.num_block_temp_kernel=[[2, 1], [1, 2], [1, 1], [2, 1]]",
    "+MODEL.backbone.spatial_strides=[[1, 1], [2, 2], [2, 2], [1, 1]]",
    "MODEL.backbone.spatial_dilations=[[1, 1], [1, 1], [1, 1], [2, 2]]",
    "MODEL.backbone.nonlocal_location=[[[], []], [[1], []], [[0, 1], [1]], [[], []]]",
    "MODEL.backbone.nonlocal_group=[[1, 1], [1, 1], [2, 2], [1, 1]]",
    "MODEL.backbone.nonlocal_pool=[[[1, 2, 2], [1, 2, 2]], [[1, 2, 2], [1, 2, 2]], [[1, 2, 2], [2, 2, 2]], "
    "[[1, 2, 2], [1, 2, 2]]]",
]
NONLOCAL_BLOCKS = ["s3.pathway0_nonlocal1", "s4.pathway0_nonlocal0", "s4.pathway0_nonlocal1", "s4.pathway1_nonlocal1"]


def family_overrides(tiny_override_list: List[str], instantiation: str = "dot_product") -> List[str]:
    return tiny_override_list + FAMILY + [f"MODEL.backbone.nonlocal_instantiation={instantiation}"]


def peaked_model(cfg):
    """The configured model in eval mode with trained-like BN statistics and scales (so the non-local blocks, whose
    BN starts at zero, contribute and every fold matters) and a 30x classifier (peaked probabilities)."""
    import paddle

    from paddlevideo_slowfast.modeling import build_model

    model = build_model(cfg.MODEL)
    model.eval()
    rng = np.random.default_rng(11)
    for layer in model.sublayers():
        if isinstance(layer, paddle.nn.BatchNorm3D):
            c = layer._mean.shape[0]
            layer._mean.set_value((rng.standard_normal(c) * 0.1).astype(np.float32))
            layer._variance.set_value((rng.random(c) * 0.5 + 0.75).astype(np.float32))
            layer.weight.set_value((rng.random(c) * 0.4 + 0.3).astype(np.float32))
            layer.bias.set_value((rng.standard_normal(c) * 0.1).astype(np.float32))
    projection = model.head.projection.weight
    projection.set_value(projection.numpy() * 30)
    return model


def probabilities(model, slow: np.ndarray, fast: np.ndarray) -> np.ndarray:
    import paddle

    with paddle.no_grad():
        return model([paddle.to_tensor(slow), paddle.to_tensor(fast)], mode="infer").numpy()


@pytest.fixture(scope="module")
def family_cfg(repo_root, tiny_override_list):
    from paddlevideo_slowfast.config import load_config

    return load_config(str(repo_root / "configs" / CONFIG), family_overrides(tiny_override_list))


@pytest.fixture(scope="module")
def family_model(family_cfg):
    return peaked_model(family_cfg)


@pytest.fixture(scope="module")
def family_export(family_model, tiny_override_list, repo_root, tmp_path_factory):
    """(output folder, what it printed) of `paddlevideo export -c configs/slowfast_r101_nl_16x8.yaml -w ... --format
    onnx` of the tiny family model."""
    import contextlib
    import io

    import paddle

    from paddlevideo_slowfast.cli import main

    work = tmp_path_factory.mktemp("family")
    weights = work / "family.pdparams"
    paddle.save(family_model.state_dict(), str(weights))
    argv = ["export", "-c", str(repo_root / "configs" / CONFIG), "-w", str(weights), "--output", str(work / "out"),
            "--format", "onnx", "-o", *family_overrides(tiny_override_list)]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(argv) == 0
    return work / "out", printed.getvalue()


def test_the_tiny_model_has_the_family_geometry(family_model):
    backbone = family_model.backbone
    names = {name for name, _ in backbone.named_sublayers()}
    assert {f"{block}.bn" for block in NONLOCAL_BLOCKS} <= names
    assert [backbone.s3.pathway1_res0.branch2.a.weight.shape[2], backbone.s3.pathway1_res1.branch2.a.weight.shape[2],
            backbone.s3.pathway0_res0.branch2.a.weight.shape[2]] == [3, 3, 1]  # Fast: both blocks; Slow res3: 1
    assert [backbone.s5.pathway0_res0.branch2.a.weight.shape[2],
            backbone.s5.pathway0_res1.branch2.a.weight.shape[2]] == [3, 3]
    assert list(backbone.s5.pathway0_res0.branch2.b._dilation) == [1, 2, 2]
    assert (backbone.s4.pathway1_nonlocal1.group, backbone.s4.pathway1_nonlocal1.pool_size) == (2, [2, 2, 2])


def test_cli_export_of_the_nonlocal_config_folds_every_bn_and_checks_both_runtimes(family_export, family_model):
    import paddle

    out, printed = family_export
    assert "Paddle Inference vs dygraph on random clip: max abs difference" in printed
    assert "onnxruntime vs dygraph on the same clip: max abs difference" in printed
    assert sorted(p.name for p in out.iterdir()) == ["infer_cfg.yml", "model.json", "model.onnx", "model.pdiparams"]
    info = read_infer_config(out)
    assert info.inputs == [{"name": "slow", "shape": [-1, 3, FRAMES // ALPHA, CROP, CROP]},
                           {"name": "fast", "shape": [-1, 3, FRAMES, CROP, CROP]}]
    norms = sum(isinstance(layer, paddle.nn.BatchNorm3D) for layer in family_model.sublayers())
    assert info.extra["folded_batchnorms"] == norms  # each non-local BN follows its conv_out: folded too
    assert info.extra["check_max_abs_diff"] < TOLERANCE
    assert info.extra["onnx_check_max_abs_diff"] < TOLERANCE


def test_paddle_inference_and_onnx_equal_dygraph_on_a_batch(family_export, family_model):
    from paddlevideo_slowfast.deploy.onnx import OnnxRunner
    from paddlevideo_slowfast.deploy.runtime import PaddleRunner

    out, _ = family_export
    rng = np.random.default_rng(5)
    slow = rng.standard_normal((2, 3, FRAMES // ALPHA, CROP, CROP)).astype(np.float32)
    fast = rng.standard_normal((2, 3, FRAMES, CROP, CROP)).astype(np.float32)
    want = probabilities(family_model, slow, fast)
    assert want.max(axis=1).min() > 0.3  # peaked: the bound below means something
    for onednn in (True, False):
        runner = PaddleRunner(out / "model.json", out / "model.pdiparams", onednn=onednn, threads=2)
        assert np.abs(runner(slow, fast) - want).max() < TOLERANCE, onednn
    pytest.importorskip("onnxruntime")
    assert np.abs(OnnxRunner(out / "model.onnx", threads=2)(slow, fast) - want).max() < TOLERANCE


@pytest.mark.parametrize("runtime", ["paddle", "onnx"])
def test_predict_runs_the_export(runtime, family_export, family_model, embedded, capfd):
    import paddle  # noqa: F401  (before the pipeline's decoders, as the CLI imports it)

    from paddlevideo_slowfast.cli import main
    from paddlevideo_slowfast.deploy import Predictor
    from paddlevideo_slowfast.deploy.views import video_views

    out, _ = family_export
    if runtime == "onnx":
        pytest.importorskip("onnxruntime")
    video = embedded / "val" / "rotate_cw" / "0000.mp4"
    slow, fast = video_views(Predictor(out, threads=2).pipeline, str(video), (2, 1))
    want = probabilities(family_model, slow, fast).mean(axis=0)
    capfd.readouterr()
    assert main(["predict", "--model", str(out), "--runtime", runtime, "--views", "2x1", "--json", "--top-k",
                 str(NUM_CLASSES), "--threads", "2", "--video", str(video)]) == 0
    top = json.loads(capfd.readouterr().out)["top_k"]
    got = np.array([entry["score"] for entry in sorted(top, key=lambda entry: entry["class_id"])])
    assert np.abs(got - want).max() < TOLERANCE


@pytest.mark.parametrize("instantiation, options", [
    ("softmax", {"onnx": True, "dynamic_hw": True}),
    ("dot_product", {"legacy": True}),
], ids=["softmax-onnx-dynamic-hw", "dot-product-legacy"])
def test_other_instantiation_and_formats_export(instantiation, options, repo_root, tiny_override_list, tmp_path):
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.deploy import ExportOptions, export_model
    from paddlevideo_slowfast.deploy.onnx import OnnxRunner, onnxruntime_available
    from paddlevideo_slowfast.deploy.runtime import PaddleRunner

    cfg = load_config(str(repo_root / "configs" / CONFIG), family_overrides(tiny_override_list, instantiation))
    model = peaked_model(cfg)
    result = export_model(cfg, None, tmp_path, ExportOptions(**options), model=model)
    assert result.max_abs_diff < TOLERANCE
    assert (result.onnx_max_abs_diff is not None) == (bool(options.get("onnx")) and onnxruntime_available())
    runners = [PaddleRunner(result.model_file, result.params_file, threads=2)]
    if result.onnx_max_abs_diff is not None:
        assert result.onnx_max_abs_diff < TOLERANCE
        runners.append(OnnxRunner(result.onnx_file, threads=2))
    rng = np.random.default_rng(2)
    sizes = (CROP, CROP + 32) if options.get("dynamic_hw") else (CROP,)
    for size in sizes:  # the attention's reshapes read the map size at run time
        slow = rng.standard_normal((1, 3, FRAMES // ALPHA, size, size)).astype(np.float32)
        fast = rng.standard_normal((1, 3, FRAMES, size, size)).astype(np.float32)
        want = probabilities(model, slow, fast)
        for runner in runners:
            assert np.abs(runner(slow, fast) - want).max() < TOLERANCE, (size, type(runner).__name__)


@pytest.mark.parametrize("dynamic_hw", [False, True], ids=["static", "dynamic-hw"])
def test_a_nonlocal_whose_keys_pool_to_one_position_runs_right_under_onednn(dynamic_hw, tmp_path):
    """Paddle Inference 3.3.1's oneDNN matmul reads garbage on AVX-512 machines for a transposed product of
    contraction length 1, which a non-local block on a tiny map makes (keys max-pooled to one position); the block
    avoids that product, so fresh predictors give dygraph's output each time."""
    import paddle

    from paddlevideo_slowfast.deploy.runtime import PaddleRunner
    from paddlevideo_slowfast.modeling.nonlocal_block import NonLocal
    from paddlevideo_slowfast.modeling.norm import Norm

    paddle.seed(3)
    block = NonLocal(8, 4, (2, 2, 2), "softmax", group=2, norm=Norm())
    block.bn.weight.set_value(np.full([8], 0.7, np.float32))  # the block's output counts
    block.eval()
    clip = np.random.default_rng(4).standard_normal((2, 8, 4, 2, 2)).astype(np.float32)
    hw = None if dynamic_hw else 2
    spec = paddle.static.InputSpec([None, 8, 4, hw, hw], "float32", "clip")
    paddle.jit.save(paddle.jit.to_static(block, input_spec=[spec], full_graph=True), str(tmp_path / "model"))
    with paddle.no_grad():
        want = block(paddle.to_tensor(clip)).numpy()
    for _ in range(3):
        runner = PaddleRunner(tmp_path / "model.json", tmp_path / "model.pdiparams", input_names=["clip"],
                              onednn=True, threads=1)
        np.testing.assert_allclose(runner(clip), want, rtol=1e-5, atol=1e-5)
