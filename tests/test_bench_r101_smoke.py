"""scripts/bench_r101.py --quick runs end to end (tiny R101+NL-shaped and R50 models: export with both checks, dygraph
against Paddle Inference) and leaves docs/benchmarks.md alone; about 10 s on 2 cores."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_r101_quick_prints_its_table() -> None:
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_r101.py"), "--quick"],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    for row in ("QUICK SMOKE RUN", "| SlowFast 16x8 R101+NL | Paddle dygraph (eval, no_grad) |",
                "| SlowFast 16x8 R101+NL | **Paddle Inference, oneDNN** (exported) |",
                "| SlowFast R50 4x16 | **Paddle Inference, oneDNN** (exported) |", "Dygraph's conv3d: ",
                "- SlowFast 16x8 R101+NL (slowfast_r101_nl_16x8.yaml, test crop 64): "):
        assert row in out, row
    checks = re.findall(r"Paddle Inference vs dygraph (\S+), onnxruntime vs dygraph (\S+) \(max abs", out)
    assert len(checks) == 2 and all(float(value) < 1e-4 for pair in checks for value in pair if value != "not")
    assert "\nwrote " not in out  # --quick never writes the docs
