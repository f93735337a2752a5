"""Logs go to stderr; Progress gives a bar on a terminal and a dozen lines otherwise, not one per batch."""
from __future__ import annotations

import io
import logging
import sys
from typing import List, Optional

import pytest

from paddlevideo_slowfast.engine.logging import Progress, setup_logging


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def progress_lines(total: Optional[int], steps: int, every: Optional[int] = None) -> List[str]:
    log = logging.getLogger("test_progress")
    records: List[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        progress = Progress(total, "test", every=every, log=log)
        for _ in range(steps):
            progress.step()
        progress.close()
    finally:
        log.removeHandler(handler)
    return records


@pytest.mark.parametrize("total,every,expected", [
    (150, None, [f"test: batch {n}/150" for n in range(15, 151, 15)]),   # the quickstart's 150 batches: 10 lines
    (25, None, [f"test: batch {n}/25" for n in (3, 6, 9, 12, 15, 18, 21, 24, 25)]),  # every 3rd and the last
    (25, 10, ["test: batch 10/25", "test: batch 20/25", "test: batch 25/25"]),  # METRIC.log_interval
    (3, None, ["test: batch 1/3", "test: batch 2/3", "test: batch 3/3"]),
])
def test_lines_without_a_terminal(monkeypatch, total, every, expected) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress_lines(total, total, every) == expected


def test_unknown_length_logs_every_tenth_batch_and_the_last(monkeypatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress_lines(None, 25) == ["test: batch 10", "test: batch 20", "test: batch 25"]


def test_a_terminal_gets_a_bar_on_stderr_and_no_lines(monkeypatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert progress_lines(150, 150) == []
    assert "0/150" in terminal.getvalue()  # tqdm redraws at most every 0.1 s, so the start is what is sure


def test_setup_logging_writes_to_stderr_only(monkeypatch, capsys) -> None:
    log = setup_logging(None, "INFO")
    log.info("a log line")
    out, err = capsys.readouterr()
    assert out == "" and "a log line" in err
