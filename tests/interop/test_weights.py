"""`-w` weights: .pdparams and .safetensors load the same model; export-weights converts between them; loading
is strict except for a classifier of another class count; URLs download once into the cache, sha256-checked."""
from __future__ import annotations

import hashlib
import http.server
import json
import logging
import os
import pickle
import struct
import sys
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from interop_helpers import clips, logits, random_weights, tiny_model
from paddlevideo_slowfast.cli import main
from paddlevideo_slowfast.errors import CheckpointError
from paddlevideo_slowfast.interop import weights as weights_module
from paddlevideo_slowfast.interop.weights import load_weights, read_weights, save_weights
from torch_zip_writer import save_torch_file


@pytest.fixture(scope="module")
def trained():
    """A tiny model with random weights, those weights, and its logits."""
    model = tiny_model(seed=0)
    weights = random_weights(model, seed=2)
    model.set_state_dict(weights)
    return weights, logits(model, clips())


def test_pdparams_is_what_paddle_load_reads(tmp_path: Path, trained) -> None:
    import paddle
    weights = trained[0]
    save_weights(weights, tmp_path / "w.pdparams")
    by_paddle = paddle.load(str(tmp_path / "w.pdparams"))
    assert set(by_paddle) == set(weights)
    assert all(np.array_equal(by_paddle[k].numpy(), v) for k, v in weights.items())
    ours = read_weights(tmp_path / "w.pdparams")
    assert all(ours[k].dtype == v.dtype and np.array_equal(ours[k], v) for k, v in weights.items())


def test_export_to_safetensors_and_load_it_anywhere(tmp_path: Path, trained, capsys) -> None:
    weights, expected = trained
    save_weights(weights, tmp_path / "w.pdparams")
    assert main(["export-weights", "-w", str(tmp_path / "w.pdparams"), "--format", "safetensors",
                 "--output", str(tmp_path / "w.safetensors")]) == 0
    assert "wrote" in capsys.readouterr().out
    from safetensors import safe_open
    with safe_open(str(tmp_path / "w.safetensors"), framework="numpy") as fh:
        assert set(fh.keys()) == set(weights) and fh.metadata()["source"] == "w.pdparams"
    model = tiny_model(seed=9)
    load_weights(model, tmp_path / "w.safetensors", allow_head_reinit=False)
    np.testing.assert_array_equal(logits(model, clips()), expected)
    assert main(["export-weights", "-w", str(tmp_path / "w.safetensors"), "--format", "pdparams",
                 "--output", str(tmp_path / "back.pdparams")]) == 0
    back = read_weights(tmp_path / "back.pdparams")
    assert all(np.array_equal(back[k], v) for k, v in weights.items())


def test_export_refuses_an_output_name_of_the_other_format(tmp_path: Path, trained, capsys) -> None:
    save_weights(trained[0], tmp_path / "w.pdparams")
    assert main(["export-weights", "-w", str(tmp_path / "w.pdparams"), "--output", str(tmp_path / "w.pdparams2")]) == 2
    assert "writes a .safetensors file" in capsys.readouterr().err


def test_missing_safetensors_package_is_a_clear_error(tmp_path: Path, trained, monkeypatch) -> None:
    save_weights(trained[0], tmp_path / "w.safetensors")
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(CheckpointError, match="pip install safetensors"):
        read_weights(tmp_path / "w.safetensors")


def _malformed_safetensors(path: Path, kind: str, good: bytes) -> None:
    header_len = struct.unpack("<Q", good[:8])[0]
    if kind == "header length past the end":
        path.write_bytes(struct.pack("<Q", len(good) * 10) + good[8:])
    elif kind == "offsets past the end":
        header = json.loads(good[8:8 + header_len])
        name = next(k for k in header if k != "__metadata__")
        header[name]["data_offsets"][1] += 4096
        raw = json.dumps(header).encode()
        path.write_bytes(struct.pack("<Q", len(raw)) + raw + good[8 + header_len:])
    else:  # truncated: the tail of the data is missing
        path.write_bytes(good[: 8 + header_len + (len(good) - 8 - header_len) // 2])


@pytest.mark.parametrize("kind", ["header length past the end", "offsets past the end", "truncated"])
def test_malformed_safetensors_is_one_line_naming_the_file(tmp_path: Path, trained, capsys, kind: str) -> None:
    save_weights(trained[0], tmp_path / "good.safetensors")
    bad = tmp_path / "bad.safetensors"
    _malformed_safetensors(bad, kind, (tmp_path / "good.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="bad.safetensors: not a readable .safetensors file"):
        read_weights(bad)
    assert main(["export-weights", "-w", str(bad), "--format", "pdparams",
                 "--output", str(tmp_path / "o.pdparams")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {bad}: "), err


@pytest.mark.parametrize("name", ["w.safetensors", "w.pdparams"])
def test_weights_files_follow_the_umask(tmp_path: Path, trained, name: str) -> None:
    old = os.umask(0o022)
    try:
        save_weights(trained[0], tmp_path / name)
    finally:
        os.umask(old)
    assert (tmp_path / name).stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temp file left behind


def test_missing_unexpected_and_mismatched_keys_are_listed(tmp_path: Path, trained) -> None:
    weights = dict(trained[0])
    del weights["backbone.s2_fuse._bn._mean"]
    weights["backbone.s9.extra"] = np.zeros(3, np.float32)
    weights["backbone.s1.pathway0_stem._bn.weight"] = np.zeros(5, np.float32)
    save_weights(weights, tmp_path / "odd.pdparams")
    with pytest.raises(CheckpointError) as info:
        load_weights(tiny_model(), tmp_path / "odd.pdparams", allow_head_reinit=True)
    assert info.value.missing == ["backbone.s2_fuse._bn._mean"]
    assert info.value.unexpected == ["backbone.s9.extra"]
    assert info.value.mismatched == ["backbone.s1.pathway0_stem._bn.weight (5,) vs model (8,)"]


def test_classifier_of_another_class_count_keeps_its_fresh_init_when_allowed(tmp_path: Path, trained,
                                                                              caplog) -> None:
    weights = trained[0]
    save_weights(weights, tmp_path / "k10.pdparams")
    model = tiny_model(seed=3, num_classes=5)
    fresh = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError) as info:
        load_weights(model, tmp_path / "k10.pdparams", allow_head_reinit=False)
    assert sorted(info.value.mismatched) == ["head.projection.bias (10,) vs model (5,)",
                                             "head.projection.weight (320, 10) vs model (320, 5)"]
    log = logging.getLogger(weights_module.__name__)  # direct: the package logger may not propagate
    log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger=log.name):
            kept = load_weights(model, tmp_path / "k10.pdparams", allow_head_reinit=True)
    finally:
        log.removeHandler(caplog.handler)
    assert sorted(kept) == ["head.projection.bias", "head.projection.weight"]
    assert "classifier has 10 classes, the model 5" in caplog.text
    state = model.state_dict()
    for key, value in state.items():
        assert np.array_equal(value.numpy(), fresh[key] if key in kept else weights[key]), key


def test_head_rule_does_not_hide_other_mismatches(tmp_path: Path, trained) -> None:
    weights = dict(trained[0])
    weights["backbone.s5_fuse_missing"] = np.zeros(1, np.float32)
    save_weights(weights, tmp_path / "odd.pdparams")
    with pytest.raises(CheckpointError, match="unexpected"):
        load_weights(tiny_model(num_classes=5), tmp_path / "odd.pdparams", allow_head_reinit=True)


def test_torch_checkpoints_point_to_convert(tmp_path: Path) -> None:
    save_torch_file({"model_state": {"w": np.zeros(2, np.float32)}}, tmp_path / "x.pyth")
    with pytest.raises(CheckpointError, match="paddlevideo convert"):
        read_weights(tmp_path / "x.pyth")


def test_pdparams_naming_other_globals_is_refused(tmp_path: Path) -> None:
    class Exploit:
        def __reduce__(self):
            return eval, ("1 + 1",)
    (tmp_path / "evil.pdparams").write_bytes(pickle.dumps({"w": Exploit()}))
    with pytest.raises(CheckpointError, match="refused to load global 'builtins.eval'"):
        read_weights(tmp_path / "evil.pdparams")


# ---- URLs: a local HTTP server on 127.0.0.1 ----

@pytest.fixture
def server(tmp_path: Path, monkeypatch):
    """Serves tmp_path/www on 127.0.0.1; yields (base URL, list of requested paths); cache under tmp_path."""
    www = tmp_path / "www"
    www.mkdir()
    monkeypatch.setenv(weights_module.CACHE_ENV, str(tmp_path / "cache"))
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", requests, www
    httpd.shutdown()
    httpd.server_close()


def test_url_downloads_once_into_the_cache(tmp_path: Path, trained, server) -> None:
    base, requests, www = server
    weights, expected = trained
    save_weights(weights, www / "SlowFast.pdparams")
    digest = hashlib.sha256((www / "SlowFast.pdparams").read_bytes()).hexdigest()
    old_umask = os.umask(0o022)
    try:
        for _ in range(2):
            model = tiny_model(seed=4)
            load_weights(model, f"{base}/SlowFast.pdparams", allow_head_reinit=False, sha256=digest)
            np.testing.assert_array_equal(logits(model, clips()), expected)
    finally:
        os.umask(old_umask)
    assert requests == ["/SlowFast.pdparams"]
    cached = list((tmp_path / "cache").iterdir())
    assert len(cached) == 1 and cached[0].name.endswith("_SlowFast.pdparams")
    assert cached[0].read_bytes() == (www / "SlowFast.pdparams").read_bytes()
    assert cached[0].stat().st_mode & 0o777 == 0o644  # the umask's mode, as for any other file


def test_sha256_mismatch_fails_and_leaves_no_file(tmp_path: Path, trained, server) -> None:
    base, requests, www = server
    save_weights(trained[0], www / "w.safetensors")
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        read_weights(f"{base}/w.safetensors#sha256={'0' * 64}")
    assert list((tmp_path / "cache").iterdir()) == []
    good = hashlib.sha256((www / "w.safetensors").read_bytes()).hexdigest()
    assert set(read_weights(f"{base}/w.safetensors#sha256={good}")) == set(trained[0])


def test_a_stale_cached_copy_is_fetched_again(tmp_path: Path, trained, server) -> None:
    base, requests, www = server
    save_weights(trained[0], www / "w.pdparams")
    url = f"{base}/w.pdparams"
    path = weights_module.download(url, progress=False)
    path.write_bytes(b"corrupt")
    good = hashlib.sha256((www / "w.pdparams").read_bytes()).hexdigest()
    assert weights_module.download(url, sha256=good, progress=False).read_bytes() == (www / "w.pdparams").read_bytes()
    assert len(requests) == 2


def test_http_errors_name_the_url(server) -> None:
    base = server[0]
    with pytest.raises(CheckpointError, match="download failed.*404"):
        read_weights(f"{base}/nothing.pdparams")
