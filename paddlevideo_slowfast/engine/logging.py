"""Training logs on rank 0: a text line every log_interval, JSON lines, VisualDL scalars, a tqdm bar on a terminal."""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional

from .distributed import is_main_process

LOGGER_NAME = "paddlevideo_slowfast"


def get_logger() -> logging.Logger:
    """The package logger; configured once by `setup_logging`."""
    return logging.getLogger(LOGGER_NAME)


def setup_logging(output_dir: Optional[Path] = None, level: str = "INFO") -> logging.Logger:
    """Log to stderr and, on rank 0, to `<output_dir>/train.log`; other ranks only warn."""
    logger = get_logger()
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(level if is_main_process() else "WARNING")
    fmt = logging.Formatter("[%(asctime)s] %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    stream = logging.StreamHandler(sys.stdout)
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


class RunRecorder:
    """Writes metrics to a JSON-lines file and VisualDL (rank 0 only); other ranks record nothing."""

    def __init__(self, output_dir: Path, use_visualdl: bool = True):
        self.enabled = is_main_process()
        self._jsonl = None
        self._vdl = None
        if not self.enabled:
            return
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        self._jsonl = open(Path(output_dir) / "metrics.jsonl", "a", encoding="utf-8")
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

    def close(self) -> None:
        if self._jsonl:
            self._jsonl.close()
        if self._vdl is not None:
            self._vdl.close()


def progress_bar(total: int, desc: str):
    """A tqdm bar when stdout is a terminal on rank 0, else None."""
    if not (is_main_process() and sys.stdout.isatty()):
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, leave=False)


def format_eta(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
