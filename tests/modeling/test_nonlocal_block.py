"""NonLocal: PySlowFast's non-local block against a NumPy reference (both instantiations, pooling, time groups)."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from paddlevideo_slowfast.modeling import count_macs, initialize
from paddlevideo_slowfast.modeling.nonlocal_block import NonLocal
from paddlevideo_slowfast.modeling.norm import Norm

C, INNER = 8, 4


def make_block(pool=(1, 2, 2), instantiation="dot_product", group=1, seed=0) -> NonLocal:
    """An eval-mode block with random convs, biases and BN (gamma away from 0), seeded."""
    block = NonLocal(C, INNER, pool, instantiation, group=group, norm=Norm())
    rng = np.random.default_rng(seed)
    for name, value in block.state_dict().items():
        shape = value.shape
        if name.endswith("_variance"):
            array = rng.uniform(0.5, 1.5, shape)
        elif name.endswith("bn.weight"):
            array = rng.uniform(0.5, 1.5, shape)
        else:
            array = rng.standard_normal(shape) * 0.3
        value.set_value(array.astype("float32"))
    block.eval()
    return block


def reference(block: NonLocal, x: np.ndarray, pool, instantiation: str) -> np.ndarray:
    """The block's maths in float64 NumPy: conv = einsum over channels, BN from its running statistics."""
    p = {k: v.numpy().astype("float64") for k, v in block.state_dict().items()}

    def conv(name, inp):
        w = p[f"{name}.weight"].reshape(p[f"{name}.weight"].shape[:2])
        return np.einsum("oc,ncthw->nothw", w, inp) + p[f"{name}.bias"].reshape(1, -1, 1, 1, 1)

    n, c, t, h, w = x.shape
    kt, kh, kw = pool
    pooled = x[:, :, :t // kt * kt, :h // kh * kh, :w // kw * kw]
    pooled = pooled.reshape(n, c, t // kt, kt, h // kh, kh, w // kw, kw).max(axis=(3, 5, 7))
    theta = conv("conv_theta", x).reshape(n, INNER, -1)
    phi = conv("conv_phi", pooled).reshape(n, INNER, -1)
    g = conv("conv_g", pooled).reshape(n, INNER, -1)
    affinity = np.einsum("nct,ncp->ntp", theta, phi)
    if instantiation == "softmax":
        affinity = affinity * INNER ** -0.5
        affinity = np.exp(affinity - affinity.max(axis=2, keepdims=True))
        affinity /= affinity.sum(axis=2, keepdims=True)
    else:
        affinity /= affinity.shape[2]
    y = np.einsum("ntp,ncp->nct", affinity, g).reshape(n, INNER, t, h, w)
    y = conv("conv_out", y)
    scale = p["bn.weight"] / np.sqrt(p["bn._variance"] + 1e-5)
    channel = (1, -1, 1, 1, 1)
    y = (y - p["bn._mean"].reshape(channel)) * scale.reshape(channel) + p["bn.bias"].reshape(channel)
    return x + y


def clip(shape=(2, C, 4, 6, 6), seed=1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def forward(block: NonLocal, x: np.ndarray) -> np.ndarray:
    with paddle.no_grad():
        return block(paddle.to_tensor(x)).numpy()


def test_children_and_state_keys_are_pyslowfasts():
    keys = list(NonLocal(C, INNER, norm=Norm()).state_dict())
    assert keys == [f"conv_{c}.{p}" for c in ("theta", "phi", "g", "out") for p in ("weight", "bias")] + [
        "bn.weight", "bn.bias", "bn._mean", "bn._variance"]
    block = NonLocal(C, INNER, norm=Norm())
    assert block.conv_theta.weight.shape == [INNER, C, 1, 1, 1] and block.conv_out.weight.shape == [C, INNER, 1, 1, 1]


@pytest.mark.parametrize("instantiation", ["dot_product", "softmax"])
@pytest.mark.parametrize("pool", [(1, 2, 2), (1, 1, 1), (2, 2, 2)])
def test_matches_numpy_reference(instantiation, pool):
    block = make_block(pool, instantiation)
    x = clip()
    got = forward(block, x)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, reference(block, x.astype("float64"), pool, instantiation), rtol=1e-4, atol=1e-4)


def test_pool_floors_odd_sizes_like_maxpool3d():
    block = make_block((1, 2, 2))
    x = clip((1, C, 3, 7, 5))
    np.testing.assert_allclose(forward(block, x), reference(block, x.astype("float64"), (1, 2, 2), "dot_product"),
                               rtol=1e-4, atol=1e-4)


def test_dot_product_and_softmax_differ():
    x = clip()
    assert not np.allclose(forward(make_block(instantiation="dot_product"), x),
                           forward(make_block(instantiation="softmax"), x), atol=1e-3)


@pytest.mark.parametrize("group", [2, 4])
def test_groups_attend_to_consecutive_runs_of_frames_alone(group):
    x = clip((2, C, 8, 4, 4))
    grouped = forward(make_block(group=group), x)
    alone = make_block(group=1)
    runs = np.split(x, group, axis=2)  # frames [0, T/g), [T/g, 2T/g), ... each attended without the others
    np.testing.assert_allclose(grouped, np.concatenate([forward(alone, r) for r in runs], axis=2), rtol=1e-5,
                               atol=1e-5)
    assert not np.allclose(grouped, forward(alone, x), atol=1e-3)


def test_group_must_divide_the_frames():
    with pytest.raises(ValueError, match="group 3"):
        forward(make_block(group=3), clip((1, C, 4, 4, 4)))


@pytest.mark.parametrize("train", [False, True])
def test_zero_initialised_final_bn_makes_the_block_the_identity(train):
    block = make_block()
    initialize(block, seed=0)
    np.testing.assert_array_equal(block.bn.weight.numpy(), 0.0)
    assert float(np.abs(block.conv_theta.weight.numpy()).max()) > 0   # the convs themselves are Kaiming-filled
    block.train(train)
    x = clip()
    np.testing.assert_array_equal(forward(block, x), x)


def test_without_zero_init_the_final_bn_starts_at_one():
    block = make_block()
    initialize(block, seed=0, zero_init_final_bn=False)
    np.testing.assert_array_equal(block.bn.weight.numpy(), 1.0)
    assert not np.allclose(forward(block, clip()), clip(), atol=1e-3)


def test_unknown_instantiation_is_refused():
    with pytest.raises(ValueError, match="gaussian"):
        NonLocal(C, INNER, instantiation="gaussian", norm=Norm())


@pytest.mark.parametrize("group", [1, 2])
def test_attention_products_are_counted_as_fvcore_counts_einsums(group):
    block = make_block((1, 2, 2), group=group)
    x = clip((2, C, 4, 6, 6))
    queries, keys = 4 // group * 36, 4 // group * 9  # per run of frames: T/g x 6 x 6 and the 2x2-pooled map
    assert block.matmul_macs(paddle.to_tensor(x)) == 2 * (2 * group) * INNER * queries * keys
    convs = 2 * 144 * C * INNER * 2 + 2 * 36 * C * INNER * 2  # theta and out at full size, phi and g pooled
    model = paddle.nn.Sequential(block)  # as inside a backbone: the profiler hooks sublayers
    assert count_macs(model, paddle.to_tensor(x)) == convs + block.matmul_macs(paddle.to_tensor(x))


@pytest.mark.parametrize("instantiation", ["dot_product", "softmax"])
def test_keys_pooled_to_one_position_match_the_reference(instantiation):
    """One key position: the attention product's contraction has length 1 (an outer product)."""
    block = make_block((2, 2, 2), instantiation)
    x = clip((2, C, 2, 3, 2))
    np.testing.assert_allclose(forward(block, x), reference(block, x.astype("float64"), (2, 2, 2), instantiation),
                               rtol=1e-4, atol=1e-4)
