"""scripts/bench_multigrid.py --quick trains both quickstarts at a tiny size, prints every table and leaves
docs/benchmarks.md alone; about 10-15 s on 2 cores."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_multigrid_quick_prints_every_table(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_multigrid.py"), "--quick", "--work",
                          str(tmp_path)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    for row in ("### Time to the plain run's best validation top-1", "| quickstart_multigrid | ",
                "| quickstart | 16 x 16 x 32 | plain |", "| quickstart_multigrid | 8 x 4 x 23 | short cycle 0 |",
                "| 1 x 16 x 32 | base |", "QUICK SMOKE RUN"):
        assert row in out, row
    assert "\nwrote " not in out  # --quick never writes the docs
    assert (tmp_path / "quickstart_multigrid" / "train.log").read_text().count("multigrid: 3 epochs") == 1
