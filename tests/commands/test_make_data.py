"""`paddlevideo make-data`: writes the lists, names and videos; the same seed twice gives the same files."""
from __future__ import annotations

from paddlevideo_slowfast.cli import main


def test_make_data_cli(tmp_path, capsys) -> None:
    args = ["make-data", "--seed", "3", "--classes", "left,right", "up", "--frames", "8", "--size", "32",
            "--train-per-class", "2", "--val-per-class", "1", "--workers", "1"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    assert "wrote 9 videos" in capsys.readouterr().out
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "a" / "label_names.txt").read_text().split() == ["left", "right", "up"]
    for rel in ("train.list", "val.list", "train/up/0001.mp4", "val/left/0000.mp4"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    assert main(["make-data", "--out", str(tmp_path / "c"), "--classes", "nope"]) == 2


def test_make_data_never_deletes_a_folder_it_did_not_write(tmp_path, capsys) -> None:
    args = ["make-data", "--classes", "left", "--frames", "4", "--size", "16", "--train-per-class", "1",
            "--val-per-class", "0", "--workers", "1", "--out"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work\n")
    assert main(args + [str(mine)]) == 2
    assert "was not written by make-data" in capsys.readouterr().err
    assert (mine / "thesis.tex").read_text() == "years of work\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(args + [str(empty)]) == 0 and (empty / "train.list").is_file()
    assert main(args + [str(empty)]) == 0            # its own folder: replaced
    assert main(args + [str(mine), "--force"]) == 0   # asked for
    assert not (mine / "thesis.tex").exists() and (mine / "train.list").is_file()
