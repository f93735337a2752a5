"""Conversion round trips through our model: a PySlowFast .pyth, a Caffe2 .pkl and a pytorchvideo state dict,
each built here from one set of random weights, convert to .pdparams that give exactly the logits of our model
loaded with those weights directly; bad sources fail with the keys at fault."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import yaml

from interop_helpers import (clips, logits, random_weights, tiny_model, to_caffe2, to_pyslowfast, to_pytorchvideo,
                             write_caffe2_pkl)
from paddlevideo_slowfast.cli import main
from paddlevideo_slowfast.errors import CheckpointError
from paddlevideo_slowfast.interop.convert import convert
from paddlevideo_slowfast.interop.weights import load_weights, read_weights
from torch_zip_writer import save_torch_file


@pytest.fixture(scope="module")
def reference():
    """Random weights (BN statistics included) in PaddleVideo names, test clips, and the logits of our model
    holding those weights."""
    model = tiny_model(seed=0)
    weights = random_weights(model, seed=1)
    model.set_state_dict(weights)
    inputs = clips()
    return weights, inputs, logits(model, inputs)


def write_source(weights, fmt: str, folder: Path) -> Path:
    """`weights` as the named source writes them: PySlowFast and pytorchvideo .pyth, Caffe2 .pkl."""
    pyslowfast = to_pyslowfast(weights)
    if fmt == "caffe2":
        path = folder / "SLOWFAST_tiny.pkl"
        write_caffe2_pkl(path, to_caffe2(pyslowfast))
    elif fmt == "pytorchvideo":
        path = folder / "SLOWFAST_tiny_ptv.pyth"
        save_torch_file({"epoch": 10, "model_state": OrderedDict(to_pytorchvideo(pyslowfast))}, path)
    else:
        path = folder / "checkpoint_epoch_00196.pyth"
        save_torch_file({"epoch": 196, "model_state": OrderedDict(pyslowfast), "cfg": "MODEL:\n  ARCH: slowfast\n",
                         "optimizer_state": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]}}, path)
    return path


@pytest.mark.parametrize("fmt", ["pyslowfast", "caffe2", "pytorchvideo"])
def test_converted_checkpoint_gives_the_logits_of_the_same_weights(tmp_path: Path, reference, fmt: str) -> None:
    weights, inputs, expected = reference
    src = write_source(weights, fmt, tmp_path)
    model = tiny_model(seed=7)
    assert not np.allclose(logits(model, inputs), expected)
    state = convert(src, "pytorchvideo" if fmt == "pytorchvideo" else "pyslowfast", tmp_path / "out.pdparams",
                    model=model)
    assert set(state) == set(weights)
    for key, value in weights.items():
        assert np.array_equal(state[key], value), key
    assert load_weights(model, tmp_path / "out.pdparams", allow_head_reinit=False) == []
    np.testing.assert_array_equal(logits(model, inputs), expected)


def _tiny_config(folder: Path, **head) -> Path:
    from paddlevideo_slowfast.modeling import variant_config
    cfg = {"MODEL": variant_config("slowfast_tiny", {"head": head} if head else None)}
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_cli_convert_writes_pdparams(tmp_path: Path, reference, capsys) -> None:
    weights = reference[0]
    src = write_source(weights, "pytorchvideo", tmp_path)
    dst = tmp_path / "out" / "slowfast_tiny.pdparams"
    assert main(["convert", "--from", "pytorchvideo", str(src), "--to", str(dst), "-c",
                 str(_tiny_config(tmp_path))]) == 0
    assert f"wrote {len(weights)} tensors" in capsys.readouterr().out
    got = read_weights(dst)
    assert set(got) == set(weights) and all(np.array_equal(got[k], v) for k, v in weights.items())


def test_cli_convert_reports_a_class_count_mismatch(tmp_path: Path, reference, capsys) -> None:
    src = write_source(reference[0], "pyslowfast", tmp_path)
    code = main(["convert", "--from", "pyslowfast", str(src), "--to", str(tmp_path / "x.pdparams"),
                 "-c", str(_tiny_config(tmp_path)), "-o", "MODEL.head.num_classes=5"])
    err = capsys.readouterr().err
    assert code == 2 and "shape mismatch (2)" in err and "head.projection.weight (320, 10) vs model (320, 5)" in err
    assert not (tmp_path / "x.pdparams").exists()


def test_keys_without_a_rule_are_listed(tmp_path: Path, reference) -> None:
    src = write_source(reference[0], "pyslowfast", tmp_path)
    with pytest.raises(CheckpointError, match="is --from right") as info:
        convert(src, "pytorchvideo", tmp_path / "x.pdparams")
    assert "s1.pathway0_stem.conv.weight" in info.value.unexpected


def test_missing_and_extra_keys_are_listed(tmp_path: Path, reference) -> None:
    pyslowfast = to_pyslowfast(reference[0])
    del pyslowfast["s3.pathway1_res0.branch2.b_bn.running_mean"]
    pyslowfast["s3.pathway0_nonlocal0.conv_g.weight"] = np.zeros((4, 4, 1, 1, 1), np.float32)
    save_torch_file({"model_state": pyslowfast}, tmp_path / "odd.pyth")
    with pytest.raises(CheckpointError) as info:
        convert(tmp_path / "odd.pyth", "pyslowfast", None, model=tiny_model())
    assert info.value.missing == ["backbone.s3.pathway1_res0.branch2.b_bn._mean"]
    assert info.value.unexpected == ["backbone.s3.pathway0_nonlocal0.conv_g.weight"]
