"""`paddlevideo scan-data -c FILE`: summary on stdout, a TSV of bad files, exit 1 when any is bad."""
from __future__ import annotations

import yaml

from paddlevideo_slowfast.cli import main
from paddlevideo_slowfast.data import make_embedded_dataset


def test_scan_data_cli(tmp_path, capsys) -> None:
    root = make_embedded_dataset(tmp_path / "emb", classes=["left", "up"], size=32, frames=8, train_per_class=2,
                                 val_per_class=1, workers=1)
    node = {"format": "SFVideoDataset", "data_prefix": str(root)}
    cfg = {"output_dir": str(tmp_path / "out"),
           "DATASET": {"train": dict(node, file_path=str(root / "train.list")),
                       "valid": dict(node, file_path=str(root / "val.list"))}}
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(cfg))
    assert main(["scan-data", "-c", str(config), "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "distinct videos: 6, readable: 6" in out
    (root / "train" / "up" / "0001.mp4").write_bytes(b"")
    report = tmp_path / "bad.tsv"
    assert main(["scan-data", "-c", str(config), "--report", str(report), "--backend", "pyav"]) == 1
    assert "empty file" in report.read_text() and "0001.mp4" in report.read_text()
