"""Every `python -m paddle.distributed.launch ... paddlevideo...` line of README.md, docs/*.md and the verbs' --help
runs: each documented entry form trains a tiny config for one epoch in 2 CPU processes (gloo)."""
from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from paddlevideo_slowfast.cli import COMMANDS

REPO = Path(__file__).resolve().parents[1]
LAUNCH = ["python", "-m", "paddle.distributed.launch"]
VERBS = ("train", "test")


def documented_launches() -> List[str]:
    """Launcher command lines in backticks or code blocks of the docs, and in the verbs' help texts."""
    texts = [p.read_text(encoding="utf-8") for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]]
    texts += [importlib.import_module(module).__doc__ or "" for module, _ in COMMANDS.values()]
    texts += [help_text for _, help_text in COMMANDS.values()]
    found = []
    for text in texts:
        text = text.replace("\\\n", " ")
        spans = re.findall(r"`([^`]*)`", text) + [line for line in text.splitlines() if "`" not in line]
        for span in spans:
            span = " ".join(span.split())
            found += re.findall(r"python -m paddle\.distributed\.launch .*?(?=$|\s#|\)$)", span)
    return sorted({command for command in found if "paddlevideo" in command})  # not Paddle-bug repro scripts


def entry_form(command: str) -> str:
    """What the launcher is told to run, up to the verb: 'paddlevideo train', 'python -m ... train'."""
    tokens = shlex.split(command)
    assert tokens[:3] == LAUNCH, command
    i = 3
    while i < len(tokens) and tokens[i].startswith("--"):
        i += 2  # every launcher option takes a value
    verb = next((j for j in range(i, len(tokens)) if tokens[j] in VERBS), None)
    assert verb is not None, f"no verb in {command!r}"
    return " ".join(tokens[i:verb + 1])


FORMS: Dict[str, List[str]] = {}
for _command in documented_launches():
    FORMS.setdefault(entry_form(_command), []).append(_command)


def test_the_docs_show_a_launcher_line() -> None:
    assert "paddlevideo train" in FORMS and "python -m paddlevideo_slowfast.pv train" in FORMS, FORMS


def _pv_config(data: Path, folder: Path) -> Path:
    lists = {"train": "train.list", "valid": "val.list", "test": "val.list"}
    modes = "\n".join(f"  {mode}: {{data_prefix: '{data}', file_path: '{data / name}', "
                      f"label_file: '{data / 'label_names.txt'}'}}" for mode, name in lists.items())
    path = folder / "pv.yaml"
    path.write_text(f"_BASE_: {REPO / 'configs' / 'paddlevideo' / 'slowfast_tiny_embedded.yaml'}\n"
                    f"model_name: Tiny\nepochs: 1\nlog_interval: 1\noutput_dir: '{folder / 'out'}'\n"
                    "MODEL: {head: {num_classes: 4}}\n"
                    f"DATASET:\n  batch_size: 2\n  num_workers: 0\n{modes}\n"
                    "METRIC: {num_classes: 4}\nPRECISEBN: {num_iters_preciseBN: 1, preciseBN_interval: 4}\n"
                    "OPTIMIZER: {learning_rate: {max_epoch: 1}}\n")
    return path


@pytest.mark.parametrize("form", sorted(FORMS))
def test_documented_launcher_form_trains_in_two_processes(form: str, request, tiny_dataset: Path,
                                                          tiny_config: Path, tmp_path: Path) -> None:
    """The documented entry, with `python` and `paddlevideo` found on PATH as in the user's activated venv."""
    bindir = Path(sys.executable).parent
    if form.startswith("paddlevideo") and not (bindir / "paddlevideo").is_file():
        pytest.skip("the `paddlevideo` console script is not installed (pip install -e .)")
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(REPO),
           "OMP_NUM_THREADS": "1"}
    if "paddlevideo_slowfast.pv" in form:
        env["PADDLEVIDEO_DIR"] = str(request.getfixturevalue("paddlevideo_dir"))
        args = ["-c", str(_pv_config(tiny_dataset, tmp_path)), "--device", "cpu"]
        out = tmp_path / "out"
    else:
        out = tmp_path / "out"
        args = ["-c", str(tiny_config), "-o", "epochs=1", "--output", str(out)]
    logs = tmp_path / "logs"
    proc = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                           "--log_dir", str(logs), *shlex.split(form), *args],
                          cwd=tmp_path, capture_output=True, text=True, env=env)
    worker_logs = sorted(logs.glob("workerlog.*"))
    text = "".join(p.read_text() for p in worker_logs)
    assert proc.returncode == 0, f"{FORMS[form]}\n{text[-4000:]}\n{proc.stderr[-2000:]}"
    assert len(worker_logs) == 2 and (out / "Tiny_epoch_00001.pdparams").is_file()
    if "paddlevideo_slowfast.pv" in form:  # 16 videos, batch 2 in each of 2 processes: 4 steps, not 8
        rank0 = worker_logs[0].read_text()
        assert "train step:3 " in rank0 and "train step:4 " not in rank0
    else:
        assert "batch 2 x 2 processes" in (out / "train.log").read_text()
        assert text.count("training finished; outputs in") == 1  # the job's one result line, not one per rank
