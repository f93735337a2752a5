"""`.npz` sources: a state dict saved with np.savez under the source's own names converts (API and CLI) to the
same arrays as the renaming of that dict, read with allow_pickle=False; object arrays and broken archives fail
in one line naming the file (exit 2 from the CLI); the documented one-line writer produces such a file."""
from __future__ import annotations

import importlib.util
import os
import shlex
import sys
import types
from pathlib import Path
from typing import Dict

import numpy as np
import pytest
import yaml

from interop_helpers import random_weights, reference_file, tiny_model, to_caffe2, to_pyslowfast, to_pytorchvideo
from paddlevideo_slowfast.cli import main
from paddlevideo_slowfast.errors import CheckpointError
from paddlevideo_slowfast.interop.convert import convert, read_source, rename
from paddlevideo_slowfast.interop.npz_state import is_npz_file, load_npz_state
from paddlevideo_slowfast.interop.weights import read_weights
from torch_zip_writer import save_torch_file

DOCS = Path(__file__).resolve().parents[2] / "docs" / "model_zoo.md"
# a slice of the 16x8 R101+NL: both stems, the first non-local block, the last res4 block, the fusion, the head
R101_SLICE = ("s1.", "s4.pathway0_nonlocal6.", "s4.pathway0_res22.", "s4.pathway1_res22.", "s4_fuse.", "head.")


@pytest.fixture(scope="module")
def weights() -> Dict[str, np.ndarray]:
    """Random weights of slowfast_tiny, PaddleVideo names."""
    return random_weights(tiny_model(seed=0), seed=1)


def _tiny_config(folder: Path) -> Path:
    from paddlevideo_slowfast.modeling import variant_config
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump({"MODEL": variant_config("slowfast_tiny")}))
    return path


def _r101_slice_state(folder: Path) -> Dict[str, np.ndarray]:
    """make_state of the reference (its own rules, imported by path) over a slice of the 16x8 R101+NL key list."""
    keys_file = reference_file("pyslowfast_r101/pyslowfast_keys_r101_nln_16x8.txt")
    spec = importlib.util.spec_from_file_location("make_weights_psf", keys_file.parent / "make_weights_psf.py")
    make_weights_psf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_weights_psf)
    lines = [line for line in keys_file.read_text().splitlines() if line.startswith(R101_SLICE)]
    sliced = folder / "keys.txt"
    sliced.write_text("\n".join(lines) + "\n")
    return make_weights_psf.make_state(str(sliced), seed=0)


def _one_error_line(err: str, path: Path) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(path) in lines[0], err
    return lines[0]


def test_r101_nonlocal_npz_converts_to_the_renamed_dict(tmp_path: Path) -> None:
    state = _r101_slice_state(tmp_path)
    assert sum("_nonlocal6." in k for k in state) == 12 and "head.projection.weight" in state
    np.savez(tmp_path / "r101_nln.npz", **state)
    got = convert(tmp_path / "r101_nln.npz", "pyslowfast", tmp_path / "r101_nln.safetensors")
    expected = rename(state, "pyslowfast")
    assert set(got) == set(expected) and len(got) == len(state)
    for key, value in expected.items():
        assert got[key].dtype == value.dtype and np.array_equal(got[key], value), key
    assert got["head.projection.weight"].shape == (2304, 400)
    assert np.array_equal(got["backbone.s4.pathway0_nonlocal6.bn._variance"],
                          state["s4.pathway0_nonlocal6.bn.running_var"])
    saved = read_weights(tmp_path / "r101_nln.safetensors")
    assert set(saved) == set(got) and all(np.array_equal(saved[k], v) for k, v in got.items())


def test_npz_of_caffe2_blob_names_is_read_as_caffe2(tmp_path: Path) -> None:
    state = _r101_slice_state(tmp_path)
    plain = {k: v for k, v in state.items() if "_nonlocal" not in k}
    np.savez(tmp_path / "blobs.npz", **to_caffe2(plain))
    loaded, naming = read_source(tmp_path / "blobs.npz", "pyslowfast")
    assert naming == "caffe2"
    got = rename(loaded, naming)
    expected = rename(plain, "pyslowfast")
    assert set(got) == set(expected) and all(np.array_equal(got[k], v) for k, v in expected.items())


@pytest.mark.parametrize("fmt", ["pyslowfast", "pytorchvideo"])
def test_cli_converts_an_npz(tmp_path: Path, weights, fmt: str, capsys) -> None:
    source = to_pyslowfast(weights)  # with int64 num_batches_tracked entries, dropped as bookkeeping
    if fmt == "pytorchvideo":
        source = to_pytorchvideo({k: v for k, v in source.items() if not k.endswith("num_batches_tracked")})
    np.savez(tmp_path / "src.npz", **source)
    dst = tmp_path / "tiny.pdparams"
    assert main(["convert", "--from", fmt, str(tmp_path / "src.npz"), "--to", str(dst),
                 "-c", str(_tiny_config(tmp_path))]) == 0
    assert f"wrote {len(weights)} tensors" in capsys.readouterr().out
    got, renamed = read_weights(dst), rename(source, fmt)
    assert set(got) == set(renamed) == set(weights)
    assert all(np.array_equal(got[k], renamed[k]) and np.array_equal(got[k], weights[k]) for k in weights)


class _Exploit:
    """Unpickling this runs `os.system(command)`."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_cli_refuses_an_npz_with_an_object_array_in_one_line(tmp_path: Path, weights, capsys) -> None:
    marker = tmp_path / "PWNED"
    source = to_pyslowfast(weights)
    source["s1.pathway0_stem.conv.weight"] = np.array([_Exploit(f"touch {marker}")], dtype=object)
    src, dst = tmp_path / "evil.npz", tmp_path / "x.pdparams"
    np.savez(src, **source)  # np.savez pickles object arrays
    code = main(["convert", "--from", "pyslowfast", str(src), "--to", str(dst), "-c", str(_tiny_config(tmp_path))])
    line = _one_error_line(capsys.readouterr().err, src)
    assert code == 2 and "s1.pathway0_stem.conv.weight" in line and "pickle" in line
    assert not dst.exists() and not marker.exists()


def test_cli_refuses_a_broken_npz_in_one_line(tmp_path: Path, capsys) -> None:
    src = tmp_path / "broken.npz"
    src.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    code = main(["convert", "--from", "pytorchvideo", str(src), "--to", str(tmp_path / "x.pdparams"),
                 "-c", str(_tiny_config(tmp_path))])
    assert code == 2 and "not an .npz archive" in _one_error_line(capsys.readouterr().err, src)


def test_corrupt_member_is_named(tmp_path: Path) -> None:
    path = tmp_path / "crc.npz"
    np.savez(path, a=np.arange(1000, dtype=np.float32))
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # inside the stored array data: the central directory stays intact
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"array 'a' is corrupt") as info:
        load_npz_state(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize("write, reason", [
    (lambda p: np.save(p.open("wb"), np.zeros(3)), "not an .npz archive"),
    (lambda p: np.savez(p), "holds no arrays"),
    (lambda p: p.write_bytes(b""), "not an .npz archive"),
])
def test_other_bad_npz_files(tmp_path: Path, write, reason: str) -> None:
    path = tmp_path / "bad.npz"
    write(path)
    with pytest.raises(CheckpointError, match=reason) as info:
        load_npz_state(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_npz_is_told_from_torch_zips(tmp_path: Path) -> None:
    with open(tmp_path / "savez.pyth", "wb") as fh:
        np.savez(fh, w=np.ones(2))
    save_torch_file({"model_state": {"w": np.ones(2, np.float32)}}, tmp_path / "torch.pyth")
    (tmp_path / "plain.bin").write_bytes(b"\x80\x02}q\x00.")
    assert is_npz_file(tmp_path / "savez.pyth") and is_npz_file(tmp_path / "anything.npz")
    assert not is_npz_file(tmp_path / "torch.pyth") and not is_npz_file(tmp_path / "plain.bin")
    assert read_source(tmp_path / "savez.pyth", "pytorchvideo")[1] == "pytorchvideo"
    assert list(read_source(tmp_path / "torch.pyth", "pyslowfast")[0]) == ["w"]


class _Tensor:
    """Stands for a torch tensor in the documented writer: it only needs `.numpy()`."""

    def __init__(self, array: np.ndarray):
        self.array = array

    def numpy(self) -> np.ndarray:
        return self.array


def test_documented_npz_writer_runs_and_its_file_converts(tmp_path: Path, weights, monkeypatch, capsys) -> None:
    writers = [line for line in DOCS.read_text().splitlines() if line.startswith('python -c "') and "savez" in line]
    assert len(writers) == 1
    code = shlex.split(writers[0])[2]
    calls = []

    def load(path, **kwargs):
        calls.append((path, kwargs))
        return {"epoch": 196, "model_state": {k: _Tensor(v) for k, v in to_pyslowfast(weights).items()},
                "cfg": "MODEL:\n  ARCH: slowfast\n"}

    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(load=load))
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(DOCS), "exec"), {})  # noqa: S102 (the docs' own line, with torch stubbed)
    assert calls == [("checkpoint_epoch_00196.pyth", {"map_location": "cpu", "weights_only": True})]
    written = sorted(tmp_path.glob("*.npz"))
    assert [p.name for p in written] == ["checkpoint_epoch_00196.npz"]
    dst = tmp_path / "tiny.pdparams"
    assert main(["convert", "--from", "pyslowfast", str(written[0]), "--to", str(dst),
                 "-c", str(_tiny_config(tmp_path))]) == 0
    got = read_weights(dst)
    assert set(got) == set(weights) and all(np.array_equal(got[k], v) for k, v in weights.items())


def test_convert_help_names_npz(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["convert", "--help"])
    assert info.value.code == 0 and ".npz" in capsys.readouterr().out
