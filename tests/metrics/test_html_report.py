"""`paddlevideo test` writes report.html, and a real browser renders it: headless Chromium (Debian's package,
which .ci/run installs) loads the page from disk, the DOM it ends with has one row per class and per
misclassified video, every picture loaded (the page's own check), and its screenshot is not blank."""
from __future__ import annotations

import csv
import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from paddlevideo_slowfast.cli import main

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--virtual-time-budget=5000")


@pytest.fixture(scope="module")
def report(tiny_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test folder of the tiny model as built (untrained: most videos are misclassified)."""
    import paddle

    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.modeling import build_model

    weights = tmp_path_factory.mktemp("weights") / "tiny.pdparams"
    paddle.save(build_model(load_config(str(tiny_config)).MODEL).state_dict(), str(weights))
    folder = tmp_path_factory.mktemp("test") / "report"
    assert main(["test", "-c", str(tiny_config), "-w", str(weights), "--output", str(folder), "--json"]) == 0
    return folder


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is not installed: .ci/run installs Debian's package (apt-get install -y chromium); "
                    "install it the same way to run this test")
    return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=120, check=True)


def test_report_lists_classes_and_mistakes(report: Path) -> None:
    page = (report / "report.html").read_text(encoding="utf-8")
    with open(report / "confusion_matrix.csv", newline="") as f:
        confusion = np.array([[int(v) for v in row[1:]] for row in list(csv.reader(f))[1:]])
    wrong = int(confusion.sum() - np.trace(confusion))
    assert wrong > 0
    assert page.count("class='class-row") == 4 and page.count("class='miss-row'") == wrong
    strips = sorted((report / "misclassified").glob("*.png"))
    assert len(strips) == wrong
    strip = cv2.imread(str(strips[0]))
    assert strip.shape == (64, 6 * 64, 3)        # 6 frames of the 32 px videos at 64 px
    scores = [float(s) for s in re.findall(r"<td class='num'>(0\.\d{4})</td><td class='num'>0\.\d{4}</td></tr>", page)]
    assert len(scores) == wrong and scores == sorted(scores, reverse=True)


def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    url = (report / "report.html").resolve().as_uri()
    dom = chromium("--dump-dom", url, profile=tmp_path / "profile").stdout
    page = (report / "report.html").read_text(encoding="utf-8")
    assert dom.count('class="class-row') == 4
    assert dom.count('class="miss-row"') == page.count("class='miss-row'")
    check = re.search(r'id="image-check" data-images="(\d+)" data-shown="(\d+)"', dom)
    assert check, "the page's load script did not run"
    images, shown = int(check.group(1)), int(check.group(2))
    assert images == 1 + page.count("class='miss-row'") and shown == images   # confusion matrix + strips
    shot = tmp_path / "report.png"
    chromium(f"--screenshot={shot}", "--window-size=1000,1400", url, profile=tmp_path / "profile")
    picture = cv2.imread(str(shot))
    assert picture is not None and picture.shape[:2] == (1400, 1000)
    assert picture.std() > 20                                                 # text, tables, pictures
    blue = (picture[..., 0].astype(int) - picture[..., 2] > 60).mean()      # the confusion matrix's blues
    assert blue > 0.005
