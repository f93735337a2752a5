"""PySlowFast's family options on ResNetSlowFast (temporal-kernel block counts, dilations, non-local blocks), the
R101 8x8 and 16x8 R101+NL configs against PySlowFast's own key lists, and the 16x8 R101+NL against its outputs."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Dict, List

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.errors import ConfigError
from paddlevideo_slowfast.modeling import build_model, count_parameters, create_model, profile, variant_config
from paddlevideo_slowfast.modeling.nonlocal_block import INSTANTIATIONS, NonLocal

REPO = Path(__file__).resolve().parents[2]
PSF_REFERENCE = REPO.parent / "shared" / "reference" / "pyslowfast_r101"
NO_NONLOCAL = [[[], []]] * 4


def tiny(**backbone):
    """slowfast_tiny (width 8, alpha 4, beta 4, 64 px, 10 classes) with backbone overrides, in eval mode."""
    model = create_model("slowfast_tiny", {"backbone": backbone})
    model.eval()
    return model


def temporal_kernels(model, stage: str, pathway: int) -> List[int]:
    sd = model.state_dict()
    keys = sorted((k for k in sd if k.startswith(f"backbone.{stage}.pathway{pathway}_res") and
                   k.endswith(".branch2.a.weight")), key=lambda k: int(k.split("_res")[1].split(".")[0]))
    return [sd[k].shape[2] for k in keys]


def run(model, clips) -> np.ndarray:
    with paddle.no_grad():
        return model(clips).numpy()


def randomise(model, seed: int = 0):
    """Random values for every weight and BN statistic (variances positive): no block starts as the identity."""
    rng = np.random.default_rng(seed)
    for key, value in model.state_dict().items():
        array = rng.uniform(0.5, 1.5, value.shape) if key.endswith("_variance") else rng.normal(0, 0.2, value.shape)
        value.set_value(array.astype("float32"))
    return model


# ---- temporal kernels per block (RESNET.NUM_BLOCK_TEMP_KERNEL) ----

def test_num_block_temp_kernel_gives_only_the_leading_blocks_the_stage_kernel():
    model = tiny(depth=18, num_block_temp_kernel=[[2, 2], [1, 2], [1, 0], [0, 1]])
    # Slow's stage kernels are 1, 1, 3, 3 and Fast's 3 everywhere; a block past the count gets 1
    assert [temporal_kernels(model, s, 0) for s in ("s2", "s3", "s4", "s5")] == [[1, 1], [1, 1], [3, 1], [1, 1]]
    assert [temporal_kernels(model, s, 1) for s in ("s2", "s3", "s4", "s5")] == [[3, 3], [3, 3], [1, 1], [3, 1]]


def test_num_block_temp_kernel_of_every_block_is_the_default(clips):
    default, explicit = tiny(depth=18), tiny(depth=18, num_block_temp_kernel=[[2, 2]] * 4)
    assert {k: v.shape for k, v in default.state_dict().items()} == {
        k: v.shape for k, v in explicit.state_dict().items()}
    x = clips(n=1)
    np.testing.assert_array_equal(run(default, x), run(explicit, x))


# ---- dilation of the 1x3x3 convs (RESNET.SPATIAL_DILATIONS) ----

def test_res5_dilation_2_at_stride_1_keeps_the_res4_resolution(clips):
    model = tiny(spatial_strides=[[1, 1], [2, 2], [2, 2], [1, 1]], spatial_dilations=[[1, 1], [1, 1], [1, 1], [2, 2]])
    conv = model.backbone.s5.pathway0_res0.branch2.b
    assert list(conv._dilation) == [1, 2, 2] and list(conv._padding)[-2:] == [2, 2]
    assert list(model.backbone.s4.pathway0_res0.branch2.b._dilation) == [1, 1, 1]
    shapes = {b.name: b.output_shapes for b in profile(model.backbone, clips(n=1), depth=1)}
    assert shapes["s5"] == [[1, 256, 2, 4, 4], [1, 64, 8, 4, 4]]  # 64 px / 16
    undilated = tiny(spatial_strides=[[1, 1], [2, 2], [2, 2], [1, 1]])
    undilated.set_state_dict(randomise(model).state_dict())
    with paddle.no_grad():
        dilated_s5, undilated_s5 = (m.backbone(clips(n=1))[0].numpy() for m in (model, undilated))
    assert not np.allclose(dilated_s5, undilated_s5, atol=1e-3)


# ---- non-local blocks (NONLOCAL.*) ----

NL_LOCATION = [[[], []], [[1], []], [[0, 1], [1]], [[], []]]


def test_nonlocal_blocks_are_named_and_run_after_their_blocks(clips):
    model = tiny(depth=18, nonlocal_location=NL_LOCATION)
    sd = model.state_dict()
    nonlocal_keys = sorted({k.rsplit(".", 2)[0] for k in sd if "_nonlocal" in k})
    assert nonlocal_keys == ["backbone.s3.pathway0_nonlocal1", "backbone.s4.pathway0_nonlocal0",
                             "backbone.s4.pathway0_nonlocal1", "backbone.s4.pathway1_nonlocal1"]
    assert sd["backbone.s3.pathway0_nonlocal1.conv_theta.weight"].shape == [32, 64, 1, 1, 1]  # inner = width / 2
    assert sd["backbone.s4.pathway1_nonlocal1.conv_out.weight"].shape == [32, 16, 1, 1, 1]    # Fast: 1/beta wide
    assert sd["backbone.s4.pathway0_nonlocal0.bn._variance"].shape == [128]
    keys = list(sd)  # state-dict order as PySlowFast's: each block right after the residual block it follows
    assert keys.index("backbone.s4.pathway0_nonlocal0.bn._variance") + 1 == keys.index(
        "backbone.s4.pathway0_res1.branch2.a.weight")
    order = []
    stage = model.backbone.s4
    hooks = [layer.register_forward_post_hook(lambda layer, i, o, name=name: order.append(name))
             for name, layer in stage.named_children()]
    run(model, clips(n=1))
    for hook in hooks:
        hook.remove()
    assert order == ["pathway0_res0", "pathway0_nonlocal0", "pathway0_res1", "pathway0_nonlocal1",
                     "pathway1_res0", "pathway1_res1", "pathway1_nonlocal1"]


def test_nonlocal_blocks_start_as_the_identity(clips):
    """Their final BN starts at 0 (zero_init_final_bn), so the model computes what it computes without them."""
    with_nl, without = tiny(depth=18, nonlocal_location=NL_LOCATION), randomise(tiny(depth=18))
    shared = without.state_dict()
    for key, value in with_nl.state_dict().items():
        if key in shared:
            value.set_value(shared[key])
    assert all(float(np.abs(layer.bn.weight.numpy()).max()) == 0.0
               for layer in with_nl.sublayers() if isinstance(layer, NonLocal))
    x = clips(n=2)
    np.testing.assert_array_equal(run(with_nl, x), run(without, x))
    live = create_model("slowfast_tiny", {"backbone": {"depth": 18, "nonlocal_location": NL_LOCATION,
                                                       "zero_init_final_bn": False}})
    live.eval()
    assert all(float(layer.bn.weight.numpy().min()) == 1.0 for layer in live.sublayers() if isinstance(layer, NonLocal))


def test_nonlocal_group_pool_and_instantiation_reach_each_block(clips):
    model = tiny(nonlocal_location=[[[], []], [[], []], [[0], [0]], [[], []]],
                 nonlocal_group=[[1, 1], [1, 1], [2, 4], [1, 1]],
                 nonlocal_pool=[[[1, 2, 2]] * 2, [[1, 2, 2]] * 2, [[1, 1, 1], [2, 2, 2]], [[1, 2, 2]] * 2],
                 nonlocal_instantiation="softmax")
    slow, fast = model.backbone.s4.pathway0_nonlocal0, model.backbone.s4.pathway1_nonlocal0
    assert (slow.group, slow.pool_size, slow.instantiation) == (2, None, "softmax")
    assert (fast.group, fast.pool_size, fast.instantiation) == (4, [2, 2, 2], "softmax")
    assert run(model, clips(n=1, slow=2)).shape == (1, 10)  # 2 Slow frames in 2 groups, 8 Fast in 4


def test_pathway_ablations_take_their_pathways_entries(clips):
    options = {"depth": 18, "nonlocal_location": [[[], []], [[], []], [[1], []], [[], [0]]],
               "num_block_temp_kernel": [[2, 2], [2, 2], [1, 2], [2, 0]]}
    slow_only = create_model("slowfast_tiny", {"backbone": {"name": "ResNetSlowOnly", **options}})
    fast_only = create_model("slowfast_tiny", {"backbone": {"name": "ResNetFastOnly", **options}})
    assert [k for k in slow_only.state_dict() if "nonlocal" in k and k.endswith("conv_g.weight")] == [
        "backbone.s4.pathway0_nonlocal1.conv_g.weight"]
    assert [k for k in fast_only.state_dict() if "nonlocal" in k and k.endswith("conv_g.weight")] == [
        "backbone.s5.pathway1_nonlocal0.conv_g.weight"]
    assert temporal_kernels(slow_only, "s4", 0) == [3, 1] and temporal_kernels(fast_only, "s5", 1) == [1, 1]
    for model in (slow_only, fast_only):
        model.eval()
        assert run(model, clips(n=1)).shape == (1, 10)


@pytest.mark.parametrize("key,value", [
    ("num_block_temp_kernel", [[1, 1]] * 3),
    ("num_block_temp_kernel", [[2, 1], [1, 1], [1, 1], [1, 1]]),   # depth 10 has one block per stage
    ("spatial_dilations", [[0, 1]] * 4),
    ("spatial_dilations", [1, 1, 1, 1]),
    ("nonlocal_location", NO_NONLOCAL[:3]),
    ("nonlocal_location", [[[], []], [[], []], [[1], []], [[], []]]),
    ("nonlocal_location", [[[], []], [[], []], [6, []], [[], []]]),
    ("nonlocal_group", [[0, 1]] * 4),
    ("nonlocal_pool", [[[1, 2], [1, 2, 2]]] * 4),
    ("nonlocal_instantiation", "gaussian"),
])
def test_bad_family_values_name_the_key(key, value):
    with pytest.raises(ConfigError) as err:
        create_model("slowfast_tiny", {"backbone": {key: value}})
    assert err.value.key == f"MODEL.backbone.{key}"


def test_a_bad_value_in_a_config_names_its_file(tmp_path):
    path = tmp_path / "r101_bad.yaml"
    path.write_text(f"_BASE_: {REPO / 'configs' / 'slowfast_r101_nl_16x8.yaml'}\n"
                    "MODEL: {backbone: {nonlocal_location: [[[], []], [[], []], [[23], []], [[], []]]}}\n")
    with pytest.raises(ConfigError) as err:
        build_model(load_config(str(path)).MODEL)
    assert err.value.key == "MODEL.backbone.nonlocal_location" and err.value.file == str(path)


def test_schema_choices_mirror_the_instantiations():
    from paddlevideo_slowfast.config_schema import load_schema
    rules = {rule.key: rule for rule in load_schema()}
    assert rules["MODEL.backbone.nonlocal_instantiation"].choices == INSTANTIATIONS


# ---- the shipped configs and variants ----

CONFIG_OF_VARIANT = {name: f"{name}.yaml" for name in ("slowfast_r101_8x8", "slowfast_r101_nl_16x8",
                                                        "slowfast_r50_16x8")}


@pytest.mark.parametrize("variant", sorted(CONFIG_OF_VARIANT))
def test_configs_and_variants_state_the_same_model(variant):
    cfg = load_config(str(REPO / "configs" / CONFIG_OF_VARIANT[variant]))
    delta = variant_config(variant)
    for part in ("backbone", "head"):
        assert {k: cfg.MODEL[part][k] for k in delta[part] if k != "name"} == {
            k: v for k, v in delta[part].items() if k != "name"}
    frames = delta["head"].get("num_frames", 32)
    assert [cfg.PIPELINE[m].decode_sampler.num_frames for m in ("train", "valid", "test")] == [frames] * 3
    assert cfg.INFERENCE.num_frames == frames and cfg.INFERENCE.alpha == 4 == cfg.MODEL.head.alpha
    assert (cfg.epochs, cfg.OPTIMIZER.learning_rate.warmup_epochs, cfg.PRECISEBN.num_iters_preciseBN) == (196, 34, 200)


def test_r50_16x8_has_the_r50_8x8_layers():
    r50_8x8 = load_config(str(REPO / "configs" / "_base_" / "models" / "slowfast_r50_8x8.yaml")).MODEL.backbone
    assert dict(load_config(str(REPO / "configs" / "slowfast_r50_16x8.yaml")).MODEL.backbone) == dict(r50_8x8)


# ---- the R101 models against PySlowFast (full size) ----

R101 = {"8x8": ("slowfast_r101_8x8.yaml", "pyslowfast_keys_r101_8x8.txt", 1062, 62_826_968),
        "nl_16x8": ("slowfast_r101_nl_16x8.yaml", "pyslowfast_keys_r101_nln_16x8.txt", 1098, 60_080_088)}


def reference(name: str) -> Path:
    path = PSF_REFERENCE / name
    if not path.is_file():
        pytest.skip(f"PySlowFast reference not found: {path}")
    return path


@pytest.fixture(scope="module")
def psf():
    """The reference folder's make_weights_psf module (imported by path)."""
    spec = importlib.util.spec_from_file_location("make_weights_psf", reference("make_weights_psf.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def r101() -> Dict[str, object]:
    """The R101 models built from the shipped configs, lazily, once per module."""
    class Models(dict):
        def __missing__(self, name):
            self[name] = build_model(load_config(str(REPO / "configs" / R101[name][0])).MODEL)
            return self[name]
    return Models()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(R101))
def test_r101_state_dict_is_pyslowfasts_renamed(name, r101, psf):
    from paddlevideo_slowfast.interop.names import to_paddlevideo
    _, keys_file, count, params = R101[name]
    expected = [(to_paddlevideo(key, "pyslowfast"), list(shape[::-1] if len(shape) == 2 else shape))
                for key, shape, _ in psf.read_keys(reference(keys_file))]  # the FC is stored [out, in] in torch
    got = [(key, list(value.shape)) for key, value in r101[name].state_dict().items()]
    assert len(got) == count and got == expected
    assert count_parameters(r101[name]) == params


@pytest.fixture(scope="module")
def nl_16x8_outputs(r101, psf):
    """The 16x8 R101+NL with the reference weights converted from PySlowFast's names, run once on its input."""
    from paddlevideo_slowfast.interop.convert import fit, rename, target_shapes
    model = r101["nl_16x8"]
    state = fit(rename(psf.make_state(str(reference(R101["nl_16x8"][1]))), "pyslowfast"), target_shapes(model))
    model.set_state_dict({key: paddle.to_tensor(value) for key, value in state.items()})
    model.eval()
    ref = np.load(reference("ref_pyslowfast_r101_nln_16x8.npz"))
    slow, fast = psf.make_inputs(tuple(ref["slow_shape"]), tuple(ref["fast_shape"]))
    with paddle.no_grad():
        features = model.backbone([paddle.to_tensor(slow), paddle.to_tensor(fast)])
        pooled = [F.avg_pool3d(x, kernel_size=k, stride=1).flatten(1) for x, k in zip(features, model.head.pool_sizes)]
        logits = model.head.projection(paddle.concat(pooled, axis=1))
        probs = model.head(features)
    return ref, {"logits": logits.numpy(), "features_slow": pooled[0].numpy(), "features_fast": pooled[1].numpy(),
                 "probs": probs.numpy()}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["logits", "features_slow", "features_fast", "probs"])
def test_r101_nl_16x8_matches_pyslowfast(name, nl_16x8_outputs):
    """Whole vectors within 2e-4 of their largest magnitude (random weights give near input-independent argmaxes)."""
    ref, got = nl_16x8_outputs
    assert got[name].shape == ref[name].shape
    np.testing.assert_allclose(got[name], ref[name], rtol=0, atol=2e-4 * float(np.abs(ref[name]).max()))
