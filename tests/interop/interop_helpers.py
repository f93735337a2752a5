"""Helpers for the interop tests: a tiny SlowFast with random weights, its logits, and the source formats'
names for our keys (written here independently of the package's rules, so that each checks the other)."""
from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference"


def reference_file(name: str) -> Path:
    """A file of ../shared/reference; the test is skipped where that folder is absent."""
    path = REFERENCE / name
    if not path.is_file():
        pytest.skip(f"reference file not found: {path}")
    return path


def tiny_model(seed: int = 0, **head: int):
    """slowfast_tiny (1 block per stage, width 8, alpha 4, 64 px, 10 classes) with `head` overrides."""
    from paddlevideo_slowfast.modeling import create_model
    model = create_model("slowfast_tiny", {"head": head} if head else None, seed=seed)
    model.eval()
    return model


def random_weights(model, seed: int) -> Dict[str, np.ndarray]:
    """Random values for every entry of `model`'s state dict (BN variances positive), PaddleVideo names."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, tensor in model.state_dict().items():
        shape = tuple(tensor.shape)
        value = rng.uniform(0.5, 1.5, shape) if key.endswith("_variance") else rng.normal(0, 0.2, shape)
        out[key] = value.astype(np.float32)
    return out


def clips(seed: int = 0) -> List[np.ndarray]:
    """A [slow, fast] pair for slowfast_tiny: 2 and 8 frames of 64x64."""
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(2, 3, 2, 64, 64)).astype(np.float32),
            rng.normal(size=(2, 3, 8, 64, 64)).astype(np.float32)]


def logits(model, inputs: List[np.ndarray]) -> np.ndarray:
    """The classifier's output before the softmax, per position: [N, t, h, w, classes]."""
    import paddle
    seen = []
    hook = model.head.projection.register_forward_post_hook(lambda layer, args, out: seen.append(out.numpy()))
    try:
        with paddle.no_grad():
            model.forward_net([paddle.to_tensor(x) for x in inputs])
    finally:
        hook.remove()
    return seen[0]


# ---- our names -> source names (the inverse of the package's rules, written from the formats' own facts) ----

def to_pyslowfast(state: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """PySlowFast's state dict: no 'backbone.', torch BN names, FC weight [out, in], BN batch counters."""
    out = {}
    for key, value in state.items():
        name = key[len("backbone."):] if key.startswith("backbone.") else key
        name = re.sub(r"\._(conv|bn|conv_f2s)\.", r".\1.", name)
        name = re.sub(r"\._mean$", ".running_mean", re.sub(r"\._variance$", ".running_var", name))
        out[name] = value.T if value.ndim == 2 else value
        if name.endswith(".running_var"):
            out[name[:-len("running_var")] + "num_batches_tracked"] = np.array(7, dtype=np.int64)
    return out


_PTV_BRANCH1 = {"branch1": "branch1_conv", "branch1_bn": "branch1_norm"}


def to_pytorchvideo(pyslowfast: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """create_slowfast's names: blocks.{stage-1}... with the fusion inside; pooling, then the head's `proj`."""
    stages = max(int(re.match(r"s(\d+)", k).group(1)) for k in pyslowfast if re.match(r"s\d", k))
    out = {}
    for key, value in pyslowfast.items():
        parts = key.split(".")
        if parts[0] == "head":
            name = f"blocks.{stages + 1}.proj.{parts[-1]}"
        elif parts[0].endswith("_fuse"):
            stage = int(parts[0][1:-len("_fuse")])
            layer = {"conv_f2s": "conv_fast_to_slow", "bn": "norm"}[parts[1]]
            name = f"blocks.{stage - 1}.multipathway_fusion.{layer}.{parts[-1]}"
        else:
            stage = int(parts[0][1:])
            pathway, _, block = parts[1].partition("_")
            p = pathway[len("pathway"):]
            if block == "stem":
                layer = {"conv": "conv", "bn": "norm"}[parts[2]]
                name = f"blocks.0.multipathway_blocks.{p}.{layer}.{parts[-1]}"
            else:
                i = block[len("res"):]
                inner = ".".join(parts[2:-1])  # branch1 | branch1_bn | branch2.a | branch2.a_bn
                if inner in _PTV_BRANCH1:
                    inner = _PTV_BRANCH1[inner]
                else:
                    x = inner[len("branch2."):]
                    inner = f"branch2.norm_{x[0]}" if x.endswith("_bn") else f"branch2.conv_{x}"
                name = f"blocks.{stage - 1}.multipathway_blocks.{p}.res_blocks.{i}.{inner}.{parts[-1]}"
        out[name] = value
    return out


_C2_BN = {"weight": "s", "bias": "b", "running_mean": "rm", "running_var": "riv"}


def to_caffe2(pyslowfast: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Caffe2 blob names (t_ = Fast pathway; a fusion is named after the last block of its stage), plus the
    optimiser blobs the model-zoo files carry."""
    last_block: Dict[int, int] = {}
    for key in pyslowfast:
        m = re.match(r"s(\d+)\.pathway0_res(\d+)\.", key)
        if m:
            last_block[int(m.group(1))] = max(last_block.get(int(m.group(1)), 0), int(m.group(2)))
    out = {}
    for key, value in pyslowfast.items():
        if key.endswith("num_batches_tracked"):
            continue
        param = key.rsplit(".", 1)[1]
        bn_or_conv = _C2_BN[param] if "bn." in key else {"weight": "w", "bias": "b"}[param]
        m_stem = re.match(r"s1\.pathway(\d)_stem\.(conv|bn)\.", key)
        m_fuse = re.match(r"s(\d+)_fuse\.(conv_f2s|bn)\.", key)
        m_res = re.match(r"s(\d+)\.pathway(\d)_res(\d+)\.(branch1|branch1_bn|branch2\.[abc]|branch2\.[abc]_bn)\.", key)
        if key.startswith("head.projection."):
            name = f"pred_{bn_or_conv}"
        elif m_stem:
            t = "t_" if m_stem.group(1) == "1" else ""
            name = f"{t}res_conv1_bn_{bn_or_conv}" if m_stem.group(2) == "bn" else f"{t}conv1_{bn_or_conv}"
        elif m_fuse:
            stage = int(m_fuse.group(1))
            base = "t_pool1_subsample" if stage == 1 else f"t_res{stage}_{last_block[stage]}_branch2c_bn_subsample"
            name = f"{base}_bn_{bn_or_conv}" if m_fuse.group(2) == "bn" else f"{base}_{bn_or_conv}"
        elif m_res:
            stage, pathway, block, layer = m_res.groups()
            t = "t_" if pathway == "1" else ""
            layer = layer.replace("branch2.", "branch2")
            name = f"{t}res{stage}_{block}_{layer}_{bn_or_conv}"
        else:
            raise AssertionError(f"no Caffe2 name for {key}")
        out[name] = value
        if bn_or_conv == "w":
            out[name + "_momentum"] = np.broadcast_to(np.zeros((), value.dtype), value.shape)
    out["lr"] = np.array([0.1], dtype=np.float32)
    out["model_iter"] = np.array([1000], dtype=np.int64)
    return out


# ---- Python 2 pickles, as PySlowFast's Caffe2 model-zoo files are (byte strings, numpy.core globals) ----

def _py2(obj) -> bytes:
    if isinstance(obj, str):
        raw = obj.encode("latin1")
        return (b"U" + bytes([len(raw)]) if len(raw) < 256 else b"T" + struct.pack("<i", len(raw))) + raw
    if isinstance(obj, bytes):
        return _py2(obj.decode("latin1"))
    if isinstance(obj, int):
        return b"K" + bytes([obj]) if 0 <= obj < 256 else b"J" + struct.pack("<i", obj)
    if isinstance(obj, tuple):
        return b"(" + b"".join(_py2(x) for x in obj) + b"t"
    if isinstance(obj, dict):
        return b"}(" + b"".join(_py2(k) + _py2(v) for k, v in obj.items()) + b"u"
    if isinstance(obj, np.ndarray):
        obj = np.ascontiguousarray(obj)
        # dtype(kind, 0, 1) then its state (3, byte order, None, None, None, -1, -1, 0)
        dtype = (b"cnumpy\ndtype\n" + _py2(obj.dtype.str[1:]) + b"K\x00K\x01\x87R"
                 + b"(K\x03" + _py2(obj.dtype.str[0]) + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
        # _reconstruct(ndarray, (0,), 'b'), then the state (1, shape, dtype, fortran=False, raw bytes)
        return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + _py2((0,)) + _py2("b") + b"\x87R"
                + b"(K\x01" + _py2(obj.shape) + dtype + b"\x89" + _py2(obj.tobytes()) + b"tb")
    raise TypeError(type(obj))


def write_caffe2_pkl(path: Path, blobs: Dict[str, np.ndarray]) -> None:
    """A `{'blobs': ...}` pickle in the opcodes of Python 2's cPickle (protocol 2): byte strings, numpy.core."""
    path.write_bytes(b"\x80\x02" + _py2({"blobs": blobs}) + b".")
