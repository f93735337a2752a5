"""The wheel carries configs/ and pipelines/ so that shipped configs and their _BASE_ chains resolve when installed."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(repo_root)], check=True, capture_output=True)
    return next(out.glob("paddlevideo_slowfast-*.whl"))


def test_wheel_holds_configs_pipelines_and_entry_point(wheel: Path, repo_root: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in sorted((repo_root / "configs").rglob("*.yaml")):
        assert f"paddlevideo_slowfast/configs/{path.relative_to(repo_root / 'configs').as_posix()}" in names
    for path in sorted((repo_root / "pipelines").glob("*.yaml")):
        assert f"paddlevideo_slowfast/pipelines/{path.name}" in names
    assert not any(n.startswith("pipelines/") or n.startswith("configs/") for n in names)
    assert {"paddlevideo_slowfast/ops/csrc/onednn_conv3d.cc", "paddlevideo_slowfast/ops/csrc/dnnl_c_api.h"} <= names
    entry = [n for n in names if n.endswith("entry_points.txt")]
    assert "paddlevideo = paddlevideo_slowfast.cli:main" in zipfile.ZipFile(wheel).read(entry[0]).decode()


def test_installed_copy_resolves_bare_names(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("import paddlevideo_slowfast.config as c; cfg = c.load_config('slowfast_8x8.yaml'); "
            "print(c.config_file(cfg)); print(cfg.MODEL.backbone.alpha, cfg.PIPELINE.test.decode_sampler.num_frames)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": ""},
                          capture_output=True, text=True, check=True)
    file, values = proc.stdout.strip().splitlines()
    assert file.startswith(str(site)) and values == "4 32"
