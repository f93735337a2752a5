"""The R101 / 16x8 / non-local options through the PaddleVideo plugin. PaddleVideo's own ResNetSlowFast has none of
the keys; routed to ours (`ResNetSlowFast_PVSF`), its builders pass them through: the shipped
configs/paddlevideo/slowfast_r101_nl_16x8_k400.yaml builds the model of configs/slowfast_r101_nl_16x8.yaml, names as
documented in docs/model_zoo.md, and a tiny version of the geometry goes through `pv train`, `pv test`, `pv export`
and our `predict -c` on the exported program."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from paddlevideo_slowfast.plugin import PaddleVideoRecognizer3D, route_config
from paddlevideo_slowfast.plugin.importer import submodule

import pv_helpers  # tests/plugin/pv_helpers.py

PV_R101_NL = "configs/paddlevideo/slowfast_r101_nl_16x8_k400.yaml"

# the family keys at 32 px, 8 Fast frames (2 Slow), depth 18: 2 blocks a stage, res5 undilated -> dilated at stride 1
TINY_FAMILY = {
    "depth": 18,
    "num_block_temp_kernel": [[2, 1], [1, 2], [1, 1], [2, 1]],
    "spatial_strides": [[1, 1], [2, 2], [2, 2], [1, 1]],
    "spatial_dilations": [[1, 1], [1, 1], [1, 1], [2, 2]],
    "nonlocal_location": [[[], []], [[1], []], [[0, 1], [1]], [[], []]],
    "nonlocal_group": [[1, 1], [1, 1], [2, 2], [1, 1]],
    "nonlocal_pool": [[[1, 2, 2], [1, 2, 2]], [[1, 2, 2], [1, 2, 2]], [[1, 2, 2], [2, 2, 2]], [[1, 2, 2], [1, 2, 2]]],
    "nonlocal_instantiation": "softmax",
}
NONLOCAL_NAMES = {"s3.pathway0_nonlocal1", "s4.pathway0_nonlocal0", "s4.pathway0_nonlocal1", "s4.pathway1_nonlocal1"}


def _check_tiny_family(backbone) -> None:
    """`backbone` is ours with every TINY_FAMILY key in effect."""
    from paddlevideo_slowfast.modeling.backbone import ResNetSlowFast

    assert type(backbone) is ResNetSlowFast
    names = {name.rsplit(".", 1)[0] for name, _ in backbone.named_sublayers() if "_nonlocal" in name}
    assert NONLOCAL_NAMES <= names
    assert backbone.s4.pathway1_nonlocal1.group == 2 and backbone.s4.pathway1_nonlocal1.pool_size == [2, 2, 2]
    assert backbone.s4.pathway0_nonlocal0.instantiation == "softmax"
    assert [backbone.s3.pathway0_res0.branch2.a.weight.shape[2], backbone.s3.pathway1_res1.branch2.a.weight.shape[2],
            backbone.s5.pathway1_res1.branch2.a.weight.shape[2]] == [1, 3, 1]
    assert list(backbone.s5.pathway0_res0.branch2.b._dilation) == [1, 2, 2] and backbone.output_stride == 16


def test_paddlevideo_build_backbone_passes_the_new_keys_to_ours(registration, paddlevideo):
    build_backbone = submodule(paddlevideo, "modeling.builder").build_backbone
    name = registration.registered_name("BACKBONES", "ResNetSlowFast")
    backbone = build_backbone({"name": name, "width_per_group": 8, "alpha": 4, "beta": 4, **TINY_FAMILY})
    _check_tiny_family(backbone)


@pytest.mark.slow
def test_the_paddlevideo_r101_nl_config_builds_our_model_with_the_documented_names(registration, paddlevideo,
                                                                                   repo_root):
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.modeling import build_model, count_parameters

    cfg = load_config(str(repo_root / PV_R101_NL))
    route_config(cfg, registration.names)
    theirs = submodule(paddlevideo, "modeling.builder").build_model(cfg.MODEL)
    assert type(theirs) is PaddleVideoRecognizer3D
    ours = build_model(load_config(str(repo_root / "configs" / "slowfast_r101_nl_16x8.yaml")).MODEL)
    rows = [(key, list(value.shape)) for key, value in theirs.state_dict().items()]
    assert rows == [(key, list(value.shape)) for key, value in ours.state_dict().items()]
    assert len(rows) == 1098 and count_parameters(theirs) == 60_080_088
    keys = dict(rows)
    for documented in ("backbone.s4.pathway0_res22.branch2.a.weight", "backbone.s1.pathway0_stem._conv.weight",
                       "backbone.s4_fuse._conv_f2s.weight", "backbone.s4.pathway0_nonlocal6.conv_theta.weight",
                       "backbone.s4.pathway0_nonlocal20.bn._variance", "head.projection.weight"):
        assert documented in keys, documented
    assert sorted({k.split(".")[2] for k in keys if "_nonlocal" in k}) == [
        "pathway0_nonlocal13", "pathway0_nonlocal20", "pathway0_nonlocal6"]
    assert keys["head.projection.weight"] == [2304, 400]


@pytest.fixture(scope="module")
def family_config(tiny_dataset, repo_root, tmp_path_factory) -> Path:
    """configs/paddlevideo/slowfast_tiny_embedded.yaml on the tiny dataset, with TINY_FAMILY in its backbone, one epoch
    of two iterations."""
    base = pv_helpers.pv_config(tiny_dataset, repo_root, tmp_path_factory)
    path = base.parent / "family.yaml"
    path.write_text(f"_BASE_: {base}\nmodel_name: Family\nepochs: 1\nsave_interval: 1\n"
                    f"output_dir: '{base.parent / 'family_output'}'\n"
                    f"MODEL: {{backbone: {json.dumps(TINY_FAMILY)}}}\n"
                    "PRECISEBN: {num_iters_preciseBN: 1, preciseBN_interval: 1}\n")
    return path


@pytest.fixture(scope="module")
def family_weights(registration, family_config) -> Path:
    """`pv train` of the tiny family model (one epoch of two iterations): its checkpoint."""
    from paddlevideo_slowfast.pv.cli import main

    assert main(["train", "-c", str(family_config), "--device", "cpu", "--max_iters", "2"]) == 0
    weights = family_config.parent / "family_output" / "Family_epoch_00001.pdparams"
    assert weights.is_file(), sorted(p.name for p in weights.parent.iterdir())
    return weights


def _our_model(config: Path, weights: Path):
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.interop.weights import load_weights
    from paddlevideo_slowfast.modeling import build_model

    cfg = load_config(str(config))
    model = build_model(cfg.MODEL)
    load_weights(model, str(weights), allow_head_reinit=False)  # strict: the checkpoint has our names, all of them
    model.eval()
    return cfg, model


def test_pv_train_and_test_run_the_family_model(family_config, family_weights):
    from paddlevideo_slowfast.pv.cli import main

    _, model = _our_model(family_config, family_weights)
    _check_tiny_family(model.backbone)
    assert main(["test", "-c", str(family_config), "-w", str(family_weights), "--device", "cpu"]) == 0


def test_pv_export_and_our_predict_give_the_trained_models_probabilities(family_config, family_weights, tiny_dataset,
                                                                          tmp_path, capfd):
    import paddle

    from paddlevideo_slowfast.cli import main as ours
    from paddlevideo_slowfast.data import build_pipeline, decode_once_views
    from paddlevideo_slowfast.pv.cli import main

    out = tmp_path / "inference"
    assert main(["export", "-c", str(family_config), "-p", str(family_weights), "-o", str(out), "--device", "cpu"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["Family.json", "Family.pdiparams"]
    video = tiny_dataset / "val" / "left" / "0000.mp4"
    capfd.readouterr()
    assert ours(["predict", "--model", str(out), "-c", str(family_config), "--json", "--top-k", "4", "--views", "2x1",
                 "--threads", "1", "--video", str(video)]) == 0
    record = json.loads(next(line for line in capfd.readouterr().out.splitlines() if line.startswith("{")))
    got = np.zeros(4)
    for entry in record["top_k"]:
        got[entry["class_id"]] = entry["score"]
    cfg, model = _our_model(family_config, family_weights)
    slow, fast = decode_once_views(build_pipeline(cfg.PIPELINE.test), {"filename": str(video)}, 2, 1)
    with paddle.no_grad():
        want = model([paddle.to_tensor(slow), paddle.to_tensor(fast)], mode="infer").numpy().mean(axis=0)
    np.testing.assert_allclose(got, want, atol=1e-4)
