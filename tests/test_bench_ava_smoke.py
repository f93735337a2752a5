"""scripts/bench_ava.py --quick runs end to end (tiny generated input, 8-frame 64 px clips, the real R50 config)
and leaves docs/benchmarks.md alone; about 10-15 s on 2 cores."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_ava_quick_prints_every_table(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_ava.py"), "--quick", "--cache", str(tmp_path)],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    for row in ("| frames (JPEG) |", "| video, opencv |", "| **RoI head: extractor + bbox head + loss** |",
                "| backbone forward |", "RoI head : backbone = "):
        assert row in out, row
    assert "\nwrote " not in out  # --quick never writes the docs
