"""torch.save files without torch: our writer and reader agree bit for bit, real torch files (zip and legacy)
read the same when torch is available, and a pickle that names any other global is refused unexecuted."""
from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from paddlevideo_slowfast.errors import CheckpointError
from paddlevideo_slowfast.interop.torch_zip import load_torch_file, load_torch_state_dict
from torch_zip_writer import save_torch_file


def _arrays() -> "OrderedDict[str, np.ndarray]":
    rng = np.random.default_rng(0)
    out = OrderedDict()
    out["conv.weight"] = rng.normal(size=(4, 3, 1, 3, 3)).astype(np.float32)
    out["fc.weight"] = np.asfortranarray(rng.normal(size=(5, 7)))  # float64, not C-ordered
    out["half"] = rng.normal(size=(3,)).astype(np.float16)
    out["bn.num_batches_tracked"] = np.array(12, dtype=np.int64)  # 0-d
    out["int32"] = np.arange(-3, 3, dtype=np.int32)
    out["int16"] = np.arange(4, dtype=np.int16)
    out["int8"] = np.array([-128, 127], dtype=np.int8)
    out["uint8"] = np.arange(250, 256, dtype=np.uint8)
    out["mask"] = np.array([[True, False], [False, True]])
    out["empty"] = np.zeros((0, 4), dtype=np.float32)
    out["nan"] = np.array([np.nan, np.inf, -0.0], dtype=np.float32)
    return out


def test_writer_and_reader_round_trip_bit_exactly(tmp_path: Path) -> None:
    arrays = _arrays()
    checkpoint = {"epoch": 3, "model_state": arrays, "cfg": "TRAIN:\n  BATCH_SIZE: 64\n",
                  "optimizer_state": {"param_groups": [{"lr": 0.1, "params": [0, 1], "nesterov": True,
                                                        "betas": (0.9, 0.999), "big": 2 ** 40, "neg": -7,
                                                        "none": None}]}}
    save_torch_file(checkpoint, tmp_path / "ck.pyth")
    back = load_torch_file(tmp_path / "ck.pyth")
    assert isinstance(back["model_state"], OrderedDict) and list(back["model_state"]) == list(arrays)
    for key, value in arrays.items():
        got = back["model_state"][key]
        assert got.dtype == value.dtype and got.shape == value.shape, key
        assert got.tobytes() == np.ascontiguousarray(value).tobytes(), key
    assert back["optimizer_state"] == checkpoint["optimizer_state"]
    assert back["epoch"] == 3 and back["cfg"] == checkpoint["cfg"]


def test_written_records_are_aligned_for_memory_mapping(tmp_path: Path) -> None:
    save_torch_file({"model_state": _arrays()}, tmp_path / "ck.pyth")
    raw = (tmp_path / "ck.pyth").read_bytes()
    infos = zipfile.ZipFile(tmp_path / "ck.pyth").infolist()
    assert {i.filename.split("/")[0] for i in infos} == {"archive"}
    for info in infos:
        name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
        assert (info.header_offset + 30 + name_len + extra_len) % 64 == 0, info.filename


def test_state_dict_is_found_under_model_state_or_at_the_top(tmp_path: Path) -> None:
    arrays = {"a.weight": np.ones((2, 2), np.float32)}
    save_torch_file({"epoch": 1, "model_state": arrays}, tmp_path / "pyslowfast.pyth")
    save_torch_file(arrays, tmp_path / "bare.pth")
    save_torch_file({"epoch": 1, "note": "no weights"}, tmp_path / "none.pth")
    for name in ("pyslowfast.pyth", "bare.pth"):
        assert list(load_torch_state_dict(tmp_path / name)) == ["a.weight"]
    with pytest.raises(CheckpointError, match="no tensors"):
        load_torch_state_dict(tmp_path / "none.pth")


class _Exploit:
    """Unpickling this runs a shell command: what a hostile checkpoint would carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _write_zip(path: Path, data_pkl: bytes, storages: dict = {}) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", data_pkl)
        zf.writestr("archive/byteorder", b"little")
        for key, raw in storages.items():
            zf.writestr(f"archive/data/{key}", raw)
        zf.writestr("archive/version", b"3\n")


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_a_pickle_naming_other_globals_is_refused_and_never_run(tmp_path: Path, layout: str) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"model_state": {"w": _Exploit(marker)}}, protocol=2)
    path = tmp_path / "evil.pyth"
    if layout == "zip":
        _write_zip(path, payload)
    else:  # the legacy layout starts with the magic number, protocol and system info pickles
        path.write_bytes(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, protocol=2)
                         + pickle.dumps({"little_endian": True}, protocol=2) + payload)
    with pytest.raises(CheckpointError) as info:
        load_torch_state_dict(path)
    assert "system" in str(info.value) and "refused" in str(info.value)
    assert not marker.exists()


def test_a_tensor_reaching_past_its_storage_is_refused(tmp_path: Path) -> None:
    save_torch_file({"w": np.arange(12, dtype=np.float32).reshape(3, 4)}, tmp_path / "ok.pth")
    good = zipfile.ZipFile(tmp_path / "ok.pth")
    _write_zip(tmp_path / "short.pth", good.read("archive/data.pkl"), {"0": good.read("archive/data/0")[:40]})
    with pytest.raises(CheckpointError, match="storage 0"):
        load_torch_file(tmp_path / "short.pth")


def test_a_file_that_is_no_checkpoint_fails_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "notes.pyth").write_text("hello")
    with pytest.raises(CheckpointError, match="notes.pyth"):
        load_torch_file(tmp_path / "notes.pyth")


# ---- real torch, in a subprocess: TORCH_PYTHON may name an interpreter that has it ----

_TORCH_SCRIPT = r"""
import collections, sys
import numpy as np, torch
out = sys.argv[1]
g = torch.Generator().manual_seed(0)
w = torch.randn(4, 6, generator=g)
sd = collections.OrderedDict()
sd["conv.weight"] = torch.randn(2, 3, 1, 3, 3, generator=g)
sd["fc.weight"] = w
sd["fc.weight_t"] = w.t()          # a strided view of the same storage
sd["fc.slice"] = w[1:3, 2:]        # a view at an offset
sd["bn.num_batches_tracked"] = torch.tensor(12)
sd["half"] = torch.randn(5, generator=g).half()
sd["bf16"] = torch.randn(5, generator=g).bfloat16()
sd["mask"] = torch.tensor([True, False])
ck = {"epoch": 3, "model_state": sd, "cfg": "x: 1", "optimizer_state": {"param_groups": [{"lr": 0.1}]}}
torch.save(ck, out + "/torch_zip.pyth")
torch.save(ck, out + "/torch_legacy.pyth", _use_new_zipfile_serialization=False)
np.savez(out + "/expected.npz", **{k: (v.float() if v.dtype == torch.bfloat16 else v).numpy() for k, v in sd.items()})
ours = torch.load(out + "/ours.pyth", weights_only=True)["model_state"]
for k, v in np.load(out + "/ours.npz").items():
    assert ours[k].dtype == torch.from_numpy(v).dtype and ours[k].numpy().tobytes() == v.tobytes(), k
print("ok")
"""


@pytest.fixture(scope="module")
def torch_python() -> str:
    exe = os.environ.get("TORCH_PYTHON", sys.executable)
    if subprocess.run([exe, "-c", "import torch"], capture_output=True).returncode != 0:
        pytest.skip("torch is not installed (set TORCH_PYTHON to an interpreter that has it)")
    return exe


def test_real_torch_files_read_the_same_and_torch_reads_ours(tmp_path: Path, torch_python: str) -> None:
    arrays = {k: v for k, v in _arrays().items() if k != "empty"}
    save_torch_file({"model_state": arrays}, tmp_path / "ours.pyth")
    np.savez(tmp_path / "ours.npz", **arrays)
    proc = subprocess.run([torch_python, "-c", _TORCH_SCRIPT, str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
    expected = dict(np.load(tmp_path / "expected.npz"))
    for name in ("torch_zip.pyth", "torch_legacy.pyth"):
        got = load_torch_state_dict(tmp_path / name)
        assert list(got) == list(expected), name
        for key, value in expected.items():
            assert got[key].dtype == value.dtype and got[key].tobytes() == value.tobytes(), (name, key)
