"""Logs on rank 0, all on stderr (stdout carries a verb's data): a text line every log_interval, JSON lines,
VisualDL scalars (loss, metrics, learning rate) and the validation confusion matrix, a tqdm bar on a terminal."""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from .distributed import is_main_process

LOGGER_NAME = "paddlevideo_slowfast"


def get_logger() -> logging.Logger:
    """The package logger; configured once by `setup_logging`."""
    return logging.getLogger(LOGGER_NAME)


def setup_logging(output_dir: Optional[Path] = None, level: str = "INFO") -> logging.Logger:
    """Log to stderr and, on rank 0, to `<output_dir>/train.log`; other ranks only warn. Never stdout: `test --json`
    and the other verbs print their data there."""
    logger = get_logger()
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(level if is_main_process() else "WARNING")
    fmt = logging.Formatter("[%(asctime)s] %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(fmt)
    logger.addHandler(stream)
    if output_dir is not None and is_main_process():
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(Path(output_dir) / "train.log")
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    return logger


class Average:
    """Running mean of a scalar weighted by batch size."""

    def __init__(self) -> None:
        self.total, self.count, self.last = 0.0, 0, 0.0

    def update(self, value: float, n: int = 1) -> None:
        self.last = float(value)
        self.total += float(value) * n
        self.count += n

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0


METRICS_FILE = "metrics.jsonl"


class RunRecorder:
    """Writes metrics to a JSON-lines file and VisualDL (rank 0 only); other ranks record nothing."""

    def __init__(self, output_dir: Path, use_visualdl: bool = True):
        self.enabled = is_main_process()
        self._jsonl = None
        self._vdl = None
        if not self.enabled:
            return
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        self._jsonl = open(Path(output_dir) / METRICS_FILE, "a", encoding="utf-8")
        if use_visualdl:
            try:
                from visualdl import LogWriter
                self._vdl = LogWriter(logdir=str(Path(output_dir) / "vdl"))
            except Exception as exc:  # VisualDL is optional at run time
                get_logger().warning("VisualDL disabled: %s", exc)

    def record(self, kind: str, step: int, values: Dict[str, Any]) -> None:
        """One JSON line and one VisualDL scalar per numeric value, tagged `kind/name`."""
        if not self.enabled:
            return
        row = {"kind": kind, "step": step, "time": time.time(), **values}
        self._jsonl.write(json.dumps(row) + "\n")
        self._jsonl.flush()
        if self._vdl is not None:
            for name, value in values.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._vdl.add_scalar(tag=f"{kind}/{name}", step=step, value=float(value))

    def confusion(self, kind: str, step: int, confusion: Any, names: Optional[Sequence[str]] = None) -> None:
        """The confusion matrix (row-normalised, as the test report's PNG) as VisualDL image `kind/confusion_matrix`."""
        if not self.enabled or self._vdl is None or confusion is None:
            return
        from ..metrics.report import class_names, confusion_image

        title = f"{kind} confusion matrix, step {step}"
        picture = confusion_image(confusion, class_names(len(confusion), names), title)
        self._vdl.add_image(tag=f"{kind}/confusion_matrix", img=picture, step=step)

    def close(self) -> None:
        if self._jsonl:
            self._jsonl.close()
        if self._vdl is not None:
            self._vdl.close()

    @staticmethod
    def rewind(output_dir: Path, *, step: int, epoch: int) -> int:
        """Atomically drop the records of `metrics.jsonl` past a resume point (`step`, 1-based `epoch` done), and
        any torn line, so that the resumed run does not repeat them; returns how many lines were dropped."""
        from ..interop.atomic_file import atomic_path

        path = Path(output_dir) / METRICS_FILE
        if not path.is_file():
            return 0
        kept, dropped = [], 0
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                past = (int(row["step"]) > epoch if row.get("kind") == "epoch"
                        else int(row["step"]) > step or int(row.get("epoch", 0)) > epoch)
            except (ValueError, KeyError, TypeError, AttributeError):  # a line cut off by the kill
                past = True
            if past:
                dropped += 1
            else:
                kept.append(line + "\n")
        if dropped:
            with atomic_path(path) as tmp:
                tmp.write_text("".join(kept), encoding="utf-8")
        return dropped


def progress_bar(total: int, desc: str):
    """A tqdm bar (on stderr, tqdm's stream) when stderr is a terminal on rank 0, else None."""
    if not (is_main_process() and sys.stderr.isatty()):
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, leave=False, file=sys.stderr)


class Progress:
    """Progress through `total` batches: a bar on a terminal, else a log line every `every` batches and after
    the last (default: every tenth of the loop), so that a log file gets a dozen lines, not one per batch."""

    def __init__(self, total: Optional[int], desc: str, *, every: Optional[int] = None,
                 log: Optional[logging.Logger] = None):
        self.total, self.desc, self.done = total, desc, 0
        self.every = max(1, int(every)) if every else (max(1, -(-total // 10)) if total else 10)
        self.log = log or get_logger()
        self.bar = progress_bar(total, desc) if total else None

    def step(self) -> None:
        """One more batch done."""
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.done % self.every == 0 or self.done == self.total:
            of = f"/{self.total}" if self.total else ""
            self.log.info("%s: batch %d%s", self.desc, self.done, of)

    def close(self) -> None:
        """Remove the bar; without one, log the last batch if its line is still due."""
        if self.bar is not None:
            self.bar.close()
        elif self.done and self.done % self.every and self.done != self.total:
            self.log.info("%s: batch %d", self.desc, self.done)


def format_eta(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
