"""scripts/bench_multigrid.py --quick trains both quickstarts at a tiny size under two seeds, prints every table
and leaves docs/benchmarks.md alone; about 30 s on 2 cores."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_multigrid_quick_prints_every_table(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_multigrid.py"), "--quick", "--seeds", "3",
                          "4", "--val-per-class", "2", "--work", str(tmp_path)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    for row in ("### Time to the mean plain curve's best validation top-1", "| quickstart_multigrid | ",
                "| quickstart | 16 x 16 x 32 | plain |", "| quickstart_multigrid | 4 x 8 x 23 | short cycle 0 |",
                "| 1 x 16 x 32 | base |", "QUICK SMOKE RUN", "Seeds 3, 4: every run", "Each seed alone", "| 3 | ",
                "| 4 | ", "on the same 20 clips (1 point = 0.2 clips)",
                "At multigrid's own best ("):
        assert row in out, row
    assert "\nwrote " not in out  # --quick never writes the docs
    for seed in (3, 4):  # --seeds trains both runs under each seed
        assert (tmp_path / f"seed_{seed}" / "quickstart_multigrid" / "train.log").read_text().count(
            "multigrid: 2 epochs") == 1
        for run in ("quickstart", "quickstart_multigrid"):
            assert f"seed {seed}" in (tmp_path / f"seed_{seed}" / run / "train.log").read_text(), (seed, run)
