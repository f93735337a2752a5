"""The oneDNN conv3d operator: Paddle's conv3d values and gradients on every conv shape of our models, the layer
switch, and the build's cache, lock and fallback. Tests that need the operator skip when it cannot be built."""
from __future__ import annotations

import logging
import stat
import threading
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest
from paddle import nn

from paddlevideo_slowfast import ops
from paddlevideo_slowfast.errors import ExtensionBuildError
from paddlevideo_slowfast.modeling.conv3d_fast import FastConv3D, use_onednn_conv3d
from paddlevideo_slowfast.ops import build, conv3d

REPO = Path(__file__).resolve().parents[2]
# (in, out, kernel, stride, padding, dilation): the conv shapes a model's Conv3D layers use
Shape = Tuple[int, int, Tuple[int, ...], Tuple[int, ...], Tuple[int, ...], Tuple[int, ...]]
DILATED: List[Shape] = [(16, 16, (1, 3, 3), (1, 1, 1), (0, 2, 2), (1, 2, 2)),   # PySlowFast's SPATIAL_DILATIONS
                        (8, 4, (3, 3, 3), (2, 1, 2), (2, 1, 3), (2, 1, 3))]


@pytest.fixture(scope="module")
def operator() -> None:
    if not ops.available():
        pytest.skip(f"the oneDNN conv3d operator is unavailable here: {ops.status()}")


def conv_shapes(model: nn.Layer) -> List[Shape]:
    shapes = []
    for layer in model.sublayers():
        if isinstance(layer, nn.Conv3D):
            w = layer.weight.shape
            shapes.append((w[1], w[0], tuple(w[2:]), conv3d._triple(layer._stride), conv3d._triple(layer._padding),
                           conv3d._triple(layer._dilation)))
    return sorted(set(shapes))


@pytest.fixture(scope="module")
def model_shapes() -> Dict[str, List[Shape]]:
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.modeling import build_model, create_model

    shapes = {name: conv_shapes(create_model(name)) for name in ("slowfast_r50_4x16", "slowfast_r50_8x8")}
    shapes["quickstart"] = conv_shapes(build_model(load_config(str(REPO / "configs" / "quickstart.yaml")).MODEL))
    return shapes


def relative_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a.astype(np.float64) - b) / max(np.linalg.norm(b), 1e-30))


def check_shape(shape: Shape, seed: int) -> None:
    """Values and both gradients of the operator against Paddle's conv3d in float64 (and its float32 forward)."""
    c_in, c_out, kernel, stride, padding, dilation = shape
    rng = np.random.default_rng(seed)
    # small clips that keep every stride, padding and dilation meaningful (10 px: an odd tail at stride 2)
    frames = max(4, 2 * stride[0], dilation[0] * (kernel[0] - 1) + 1)
    x = rng.standard_normal((1, c_in, frames, 10, 10)).astype(np.float32)
    w = (rng.standard_normal((c_out, c_in) + kernel) / np.sqrt(c_in * np.prod(kernel))).astype(np.float32)
    xt, wt = paddle.to_tensor(x, stop_gradient=False), paddle.to_tensor(w, stop_gradient=False)
    out = ops.onednn_conv3d(xt, wt, stride=stride, padding=padding, dilation=dilation)
    seed_grad = rng.standard_normal(out.shape).astype(np.float32)
    gx, gw = paddle.grad([out], [xt, wt], [paddle.to_tensor(seed_grad)])

    x64, w64 = paddle.to_tensor(x.astype(np.float64), stop_gradient=False), paddle.to_tensor(w.astype(np.float64),
                                                                                            stop_gradient=False)
    ref = F.conv3d(x64, w64, stride=list(stride), padding=list(padding), dilation=list(dilation))
    rx, rw = paddle.grad([ref], [x64, w64], [paddle.to_tensor(seed_grad.astype(np.float64))])
    paddle32 = F.conv3d(paddle.to_tensor(x), paddle.to_tensor(w), stride=list(stride), padding=list(padding),
                        dilation=list(dilation)).numpy()
    # float32 rounding of a sum of K products of unit size: eps * sqrt(K) * rms; Paddle's own float32 conv3d
    # is up to 2.2 of these from float64 on these shapes, ours up to 2.0
    unit = np.finfo(np.float32).eps * np.sqrt(c_in * np.prod(kernel)) * np.sqrt((ref.numpy() ** 2).mean())
    assert np.abs(out.numpy() - ref.numpy()).max() <= 4 * unit, shape
    assert np.abs(out.numpy() - paddle32).max() <= 6 * unit, shape
    assert relative_l2(gx.numpy(), rx.numpy()) <= 1e-5, shape
    assert relative_l2(gw.numpy(), rw.numpy()) <= 1e-5, shape


@pytest.mark.parametrize("model", ["slowfast_r50_4x16", "slowfast_r50_8x8", "quickstart"])
def test_every_conv_shape_of_the_model_matches_paddle(operator, model_shapes, model: str) -> None:
    shapes = model_shapes[model]
    assert len(shapes) >= (6 if model == "quickstart" else 30)
    for i, shape in enumerate(shapes):
        check_shape(shape, seed=i)


@pytest.mark.parametrize("shape", DILATED, ids=["spatial_dilation", "all_axes"])
def test_dilation_matches_paddle(operator, shape: Shape) -> None:
    check_shape(shape, seed=7)


def test_float64_reference_agrees_with_finite_differences() -> None:
    """The float64 conv3d the operator is held to: its gradients against central differences."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 2, 3, 5, 5)), rng.standard_normal((3, 2, 3, 3, 3))
    seed_grad = rng.standard_normal((1, 3, 2, 3, 3))

    def conv(xv, wv):
        return F.conv3d(xv, wv, stride=[2, 2, 2], padding=[1, 1, 1])

    def loss(xv: np.ndarray, wv: np.ndarray) -> float:
        return float((conv(paddle.to_tensor(xv), paddle.to_tensor(wv)).numpy() * seed_grad).sum())

    xt, wt = paddle.to_tensor(x, stop_gradient=False), paddle.to_tensor(w, stop_gradient=False)
    grads = [g.numpy() for g in paddle.grad([conv(xt, wt)], [xt, wt], [paddle.to_tensor(seed_grad)])]
    for which, (array, grad) in enumerate(zip((x, w), grads)):
        for index in zip(*[rng.integers(0, n, 6) for n in array.shape]):
            step = np.zeros_like(array)
            step[index] = 1e-6
            args_plus = (x + step, w) if which == 0 else (x, w + step)
            args_minus = (x - step, w) if which == 0 else (x, w - step)
            numeric = (loss(*args_plus) - loss(*args_minus)) / 2e-6
            assert abs(numeric - grad[index]) <= 1e-6 * max(1.0, abs(numeric)), (which, index)


def test_repeated_calls_are_bitwise_equal(operator) -> None:
    """Same shape, same threads, same bits: what the DataParallel and resume tests rely on."""
    rng = np.random.default_rng(1)
    results = []
    for _ in range(2):
        x = paddle.to_tensor(rng.standard_normal((2, 16, 8, 12, 12)).astype(np.float32), stop_gradient=False)
        w = paddle.to_tensor(np.linspace(-1, 1, 16 * 16 * 9, dtype=np.float32).reshape(16, 16, 1, 3, 3),
                             stop_gradient=False)
        out = ops.onednn_conv3d(x, w, stride=(1, 2, 2), padding=(0, 1, 1), dilation=(1, 1, 1))
        results.append([t.numpy() for t in (out, *paddle.grad([out.sum()], [x, w]))])
        rng = np.random.default_rng(1)
    for a, b in zip(*results):
        assert np.array_equal(a, b)


def test_bias_and_a_frozen_input(operator) -> None:
    conv = nn.Conv3D(8, 16, kernel_size=[3, 3, 3], padding=1)
    reference = [p.numpy() for p in conv.parameters()]
    assert use_onednn_conv3d(conv) == 1 and type(conv) is FastConv3D and conv.onednn and not conv.fast
    x = paddle.randn([2, 8, 4, 6, 6])             # stop_gradient: data, as a stem's input
    out = conv(x)
    out.mean().backward()
    ops.set_enabled(False)
    try:
        plain = nn.Conv3D(8, 16, kernel_size=[3, 3, 3], padding=1)
        for p, value in zip(plain.parameters(), reference):
            p.set_value(value)
        expected = plain(x)
        expected.mean().backward()
    finally:
        ops.set_enabled(None)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(conv.parameters(), plain.parameters()):
        assert relative_l2(ours.grad.numpy(), theirs.grad.numpy().astype(np.float64)) <= 1e-6


def test_model_layers_switch_keeping_names_and_static_graphs(operator) -> None:
    from paddlevideo_slowfast.modeling import create_model

    model = create_model("slowfast_tiny")
    convs = {name: layer for name, layer in model.named_sublayers() if isinstance(layer, nn.Conv3D)}
    onednn = {name for name, layer in convs.items() if getattr(layer, "onednn", False)}
    pointwise = {name for name, layer in convs.items() if all(k == 1 for k in layer.weight.shape[2:])}
    assert onednn and onednn == set(convs) - pointwise     # built by the builder: every conv but the 1x1x1 ones
    assert all(type(layer) in (nn.Conv3D, FastConv3D) for layer in convs.values())
    layer = convs[sorted(onednn)[0]]
    program = paddle.jit.to_static(layer, full_graph=True)
    x = paddle.randn([1, layer.weight.shape[1], 4, 12, 12])
    np.testing.assert_allclose(program(x).numpy(), layer(x).numpy(), rtol=0, atol=1e-5)
    ops_in_program = {op.name() for op in program.forward.concrete_program.main_program.global_block().ops}
    assert "pd_op.conv3d" in ops_in_program and not any("pvsf" in name for name in ops_in_program)


def test_switch_off_by_environment(monkeypatch, caplog) -> None:
    monkeypatch.setenv(ops.ENV_SWITCH, "0")
    monkeypatch.setattr(conv3d._State, "said_off", False)
    with caplog.at_level(logging.INFO, logger="paddlevideo_slowfast.ops"):
        assert not ops.enabled() and not ops.in_use() and not ops.in_use()
    line = f"conv3d: Paddle's own CPU kernel (the oneDNN operator is switched off: {ops.ENV_SWITCH}=0 or set_enabled)"
    assert [r.getMessage() for r in caplog.records].count(line) == 1


def test_no_compiler_falls_back_with_one_line(monkeypatch, caplog, tmp_path: Path) -> None:
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ExtensionBuildError, match="no \\$CXX, g\\+\\+ or c\\+\\+"):
        build.find_compiler()
    monkeypatch.setattr(conv3d._State, "library", None)
    monkeypatch.setattr(conv3d._State, "reason", None)
    with caplog.at_level(logging.INFO, logger="paddlevideo_slowfast.ops"):
        assert not ops.available() and not ops.available()
        conv = nn.Conv3D(3, 4, kernel_size=3, padding=1)
        use_onednn_conv3d(conv)
        assert conv(paddle.randn([1, 3, 2, 4, 4])).shape == [1, 4, 2, 4, 4]   # Paddle's kernel runs it
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith("conv3d: Paddle's own CPU kernel (the oneDNN operator is "
                                                   "unavailable: C++ compiler: none found")


def fake_compiler(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "fake-cxx"
    script.write_text("#!/bin/sh\n"
                      "if [ \"$1\" = --version ]; then echo fake 1.0; exit 0; fi\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_concurrent_builds_compile_once(monkeypatch, tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    # sleeps, counts itself, and writes the file after -o
    body = (f"echo run >> {calls}\nsleep 1\n"
            "while [ $# -gt 0 ]; do if [ \"$1\" = -o ]; then touch \"$2\"; fi; shift; done\n")
    monkeypatch.setenv("CXX", str(fake_compiler(tmp_path, body)))
    monkeypatch.setenv(build.CACHE_ENV, str(tmp_path / "cache"))
    paths = []
    threads = [threading.Thread(target=lambda: paths.append(build.build_library("fake", ["onednn_conv3d.cc"],
                                                                                ["libdnnl.so.3"])))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(paths) == 2 and paths[0] == paths[1] and paths[0].is_file()
    assert calls.read_text().count("run") == 1
    assert paths[0].parent.parent == tmp_path / "cache" / "ops"


def test_failed_compile_names_the_log(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CXX", str(fake_compiler(tmp_path, "echo 'boom: no such header' >&2\nexit 1\n")))
    monkeypatch.setenv(build.CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(ExtensionBuildError, match="boom: no such header .*build.log"):
        build.build_library("fake", ["onednn_conv3d.cc"], ["libdnnl.so.3"])
