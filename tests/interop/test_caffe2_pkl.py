"""Caffe2 model-zoo pickles: Python 2 and 3 pickles of numpy blobs read exactly; any other global is refused."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from interop_helpers import write_caffe2_pkl
from paddlevideo_slowfast.errors import CheckpointError
from paddlevideo_slowfast.interop.caffe2_pkl import load_caffe2_blobs


def _blobs():
    rng = np.random.default_rng(1)
    return {"res4_12_branch2b_bn_rm": rng.normal(size=(256,)).astype(np.float32),
            "t_conv1_w": rng.normal(size=(8, 3, 5, 7, 7)).astype(np.float32),
            "pred_w": rng.normal(size=(400, 2304)).astype(np.float32),
            "model_iter": np.array([5000], dtype=np.int64)}


def test_python2_pickle_reads_exactly(tmp_path: Path) -> None:
    blobs = _blobs()
    write_caffe2_pkl(tmp_path / "SLOWFAST_4x16_R50.pkl", blobs)
    got = load_caffe2_blobs(tmp_path / "SLOWFAST_4x16_R50.pkl")
    assert list(got) == list(blobs)
    for key, value in blobs.items():
        assert got[key].dtype == value.dtype and np.array_equal(got[key], value), key


@pytest.mark.parametrize("wrapped", [True, False])
def test_python3_pickle_with_or_without_blobs_key(tmp_path: Path, wrapped: bool) -> None:
    blobs = _blobs()
    with open(tmp_path / "model.pkl", "wb") as fh:
        pickle.dump({"blobs": blobs, "meta": "x"} if wrapped else dict(blobs, iteration=3), fh, protocol=2)
    got = load_caffe2_blobs(tmp_path / "model.pkl")
    assert set(got) == set(blobs) and all(np.array_equal(got[k], v) for k, v in blobs.items())


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_other_globals_are_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with open(tmp_path / "evil.pkl", "wb") as fh:
        pickle.dump({"blobs": {"conv1_w": _Exploit(marker)}}, fh, protocol=2)
    with pytest.raises(CheckpointError, match="refused to load global '(posix|os|nt).system'"):
        load_caffe2_blobs(tmp_path / "evil.pkl")
    assert not marker.exists()


def test_codecs_other_than_latin1_are_refused(tmp_path: Path) -> None:
    # protocol-2 bytes go through _codecs.encode(text, 'latin1'); other codecs (zlib ...) must not run
    evil = b"\x80\x02}U\x05blobs}U\x01xc_codecs\nencode\nU\x01aU\nzlib_codec\x86Rss."
    (tmp_path / "codec.pkl").write_bytes(evil)
    with pytest.raises(CheckpointError, match="zlib_codec"):
        load_caffe2_blobs(tmp_path / "codec.pkl")


def test_a_pickle_without_arrays_is_an_error(tmp_path: Path) -> None:
    with open(tmp_path / "empty.pkl", "wb") as fh:
        pickle.dump({"blobs": {"note": "nothing"}}, fh)
    with pytest.raises(CheckpointError, match="no numpy arrays"):
        load_caffe2_blobs(tmp_path / "empty.pkl")
