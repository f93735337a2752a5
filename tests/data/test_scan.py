"""scan-data's checks: every listed video opened, counted and decoded at its ends, on a process pool."""
from __future__ import annotations

from pathlib import Path

import yaml

from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.data.scan import check_video, scan, summary_lines, write_report
from paddlevideo_slowfast.data.sampling import DecodeSampler


def scan_config(tmp_path: Path, videos, corpus) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    for name, target in (("a.mp4", videos["main"]), ("b.mp4", videos["portrait"]),
                         ("cut.mp4", corpus["truncated_faststart"]), ("text.mp4", corpus["text"])):
        (root / name).symlink_to(target)
    (root / "train.list").write_text("a.mp4 0\ncut.mp4 1\ngone.mp4 2\n")
    (root / "val.list").write_text("a.mp4 0\nb.mp4 1\ntext.mp4 2\n")
    node = {"format": "SFVideoDataset", "data_prefix": str(root)}
    cfg = {"output_dir": str(tmp_path / "out"),
           "DATASET": {"train": dict(node, file_path=str(root / "train.list")),
                       "valid": dict(node, file_path=str(root / "val.list")),
                       "test": dict(node, file_path=str(root / "val.list"), num_ensemble_views=2)},
           "PIPELINE": {"test": {"decode_sampler": {"name": "DecodeSampler", "num_frames": 8, "sampling_rate": 2,
                                                    "test_mode": True}}}}
    path = tmp_path / "scan.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_scan_finds_every_bad_video(tmp_path, videos, corpus) -> None:
    cfg = load_config(str(scan_config(tmp_path, videos, corpus)))
    lists, checks = scan(cfg, workers=2)
    assert set(lists) == {"train", "valid", "test"} and len(checks) == 5        # each distinct video once
    bad = {Path(c.path).name: c for c in checks if not c.ok}
    assert set(bad) == {"cut.mp4", "gone.mp4", "text.mp4"}
    assert bad["gone.mp4"].reason == "no such file" and bad["text.mp4"].modes == ["valid", "test"]
    good = {Path(c.path).name: c for c in checks if c.ok}
    assert good["a.mp4"].frames == 64 and good["a.mp4"].fps == 30
    report = tmp_path / "r" / "bad.tsv"
    assert write_report(str(report), checks) == 3
    rows = report.read_text().splitlines()
    assert rows[0] == "path\tmodes\treason" and len(rows) == 4
    lines = summary_lines(lists, checks)
    assert lines[1].split() == ["train", "3", "1", "2"] and "bad: 3" in lines[4]


def test_test_only_video_checks_the_span_of_its_views(videos) -> None:
    sampler = DecodeSampler(num_frames=8, sampling_rate=2, test_mode=True)
    assert check_video(str(videos["main"]), "pyav", (sampler, 10)).ok
