"""`paddlevideo make-list ROOT --out DIR`: stratified, seeded train/val lists from a folder-per-class tree."""
from __future__ import annotations

from pathlib import Path

import pytest

from paddlevideo_slowfast.cli import main
from paddlevideo_slowfast.data.datasets import read_label_names, read_list
from paddlevideo_slowfast.data.make_list import make_lists
from paddlevideo_slowfast.errors import ConfigError


def tree(root: Path, counts: dict) -> Path:
    """ROOT/<class>/<i>.mp4 placeholder files (make-list only lists them), plus files it must skip."""
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            (root / name / f"{i:03d}.mp4").write_bytes(b"x")
        (root / name / "notes.txt").write_text("not a video")
        (root / name / ".hidden.mp4").write_bytes(b"x")
    return root


def test_lists_are_stratified_relative_and_labelled_by_sorted_class(tmp_path: Path, capsys) -> None:
    root = tree(tmp_path / "videos", {"walk": 10, "run": 5, "jump": 2, "sit": 1})
    (root / "run" / "sub").mkdir()
    (root / "run" / "sub" / "deep.MP4").write_bytes(b"x")
    out = tmp_path / "lists"
    assert main(["make-list", str(root), "--out", str(out), "--val-split", "0.2"]) == 0
    assert "4 classes, 15 train and 4 val videos" in capsys.readouterr().out

    assert read_label_names(str(out / "label_names.txt")) == ["jump", "run", "sit", "walk"]
    train = read_list(str(out / "train.list"), str(root))
    val = read_list(str(out / "val.list"), str(root))
    assert all(Path(p).is_file() for p, _ in train + val)   # relative to ROOT: data_prefix is ROOT
    assert not {p for p, _ in train} & {p for p, _ in val}
    assert str(root / "run" / "sub" / "deep.MP4") in {p for p, _ in train + val}
    per_class = {label: (sum(l == label for _, l in train), sum(l == label for _, l in val)) for label in range(4)}
    # walk 10 -> 2 val; run 6 -> round(1.2) = 1; jump 2 -> at least 1; sit 1 -> none (a lone video trains)
    assert per_class == {0: (1, 1), 1: (5, 1), 2: (1, 0), 3: (8, 2)}
    for _, label in train + val:
        assert 0 <= label < 4
    line = (out / "train.list").read_text().splitlines()[0]
    assert not line.startswith("/") and line.rsplit(" ", 1)[0].split("/")[0] in {"jump", "run", "sit", "walk"}


def test_split_is_deterministic_by_seed(tmp_path: Path) -> None:
    root = tree(tmp_path / "videos", {"a": 20, "b": 20})
    lists = {}
    for name, seed in (("s0", 0), ("s0_again", 0), ("s1", 1)):
        make_lists(root, tmp_path / name, val_split=0.25, seed=seed)
        lists[name] = (tmp_path / name / "val.list").read_text()
    assert lists["s0"] == lists["s0_again"]
    assert lists["s0"] != lists["s1"]
    assert len(lists["s0"].splitlines()) == 10


def test_clear_errors(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no class folders"):
        make_lists(tmp_path / "empty", tmp_path / "out")
    root = tree(tmp_path / "videos", {"a": 3})
    (root / "b").mkdir()
    (root / "b" / "readme.txt").write_text("")
    with pytest.raises(ConfigError, match="class folder 'b' has no videos") as err:
        make_lists(root, tmp_path / "out")
    assert err.value.file == str(root / "b")
    with pytest.raises(ConfigError, match="not a folder"):
        make_lists(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(ConfigError, match="outside"):
        make_lists(root, tmp_path / "out", val_split=1.0)
    assert main(["make-list", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    assert "no class folders" in capsys.readouterr().err


def test_extensions_and_numeric_class_names(tmp_path: Path) -> None:
    root = tmp_path / "videos"
    for name in ("3 point shot", "dunk"):
        (root / name).mkdir(parents=True)
        for i in range(2):
            (root / name / f"{i}.webm").write_bytes(b"x")
    summary = make_lists(root, tmp_path / "out", extensions=["webm"])
    assert summary.classes == ["3 point shot", "dunk"] and summary.num_val == 2
    assert read_label_names(str(tmp_path / "out" / "label_names.txt")) == ["3 point shot", "dunk"]
    with pytest.raises(ConfigError, match="has no videos"):
        make_lists(root, tmp_path / "out2", extensions=[".mp4"])
