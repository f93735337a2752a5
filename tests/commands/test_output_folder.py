"""An output folder that cannot be written (here: below a regular file, which fails for root too) is one error
line naming the folder, exit 2, before any work: train, test, export and scan-data."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from paddlevideo_slowfast.cli import main


@pytest.fixture
def blocked(tmp_path: Path) -> Path:
    """A path whose parent is a regular file: no one can create it."""
    (tmp_path / "a_file").write_text("")
    return tmp_path / "a_file" / "out"


def _one_error_line(err: str, folder: Path) -> str:
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert f"cannot write to the output folder {folder}" in errors[0]
    return errors[0]


@pytest.mark.parametrize("verb", ["train", "test", "export"])
def test_unwritable_output_is_one_line(verb, blocked, tiny_config, tmp_path, capfd) -> None:
    weights = ["-w", str(tmp_path / "never_read.pdparams")] if verb != "train" else []
    assert main([verb, "-c", str(tiny_config), *weights, "--output", str(blocked)]) == 2
    assert "--output" in _one_error_line(capfd.readouterr().err, blocked)


def test_scan_data_unwritable_report_and_default_folder(blocked, tiny_dataset, tmp_path, monkeypatch, capfd) -> None:
    node = {"format": "SFVideoDataset", "data_prefix": str(tiny_dataset),
            "file_path": str(tiny_dataset / "val.list")}
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"model_name": "Scanned", "output_dir": None, "DATASET": {"valid": node}}))
    assert main(["scan-data", "-c", str(config), "--report", str(blocked / "bad.tsv")]) == 2
    _one_error_line(capfd.readouterr().err, blocked)
    monkeypatch.chdir(tmp_path)
    assert main(["scan-data", "-c", str(config), "--workers", "1"]) == 0  # output_dir null: train's folder
    assert (tmp_path / "output" / "Scanned" / "scan_data" / "bad_videos.tsv").is_file()
    assert not (tmp_path / "None").exists()
