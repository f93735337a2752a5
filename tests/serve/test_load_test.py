"""scripts/load_test.py in its short form: 4 clients x 5 requests (a fifth of them bad uploads) against a served tiny
model; every request gets exactly one answer, the right one, and the server is alive and exits 0 at the end."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_load_test_short_form(serve_model, serve_data):
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "load_test.py"), "--model", str(serve_model),
                          "--videos", str(serve_data / "val"), "--clients", "4", "--requests", "5",
                          "--bad-share", "0.2", "--threads", "1", "--max-wait-ms", "20", "--time-limit", "120"],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert report["sent"] == report["answered"] == 20 and report["problems"] == []
    answers = report["answers"]
    assert answers["good:ok"] == 16 and sum(answers.get(f"{k}:ok", 0) for k in ("empty", "text", "truncated")) == 4
    assert report["alive"] and report["exit_code"] == 0
    assert report["rss_mb"]["after"] > 0 and report["latency_s"]["p99"] >= report["latency_s"]["p50"] > 0
    assert report["in_process_clips_per_s"] > 0 and report["mean_batch"] >= 1
