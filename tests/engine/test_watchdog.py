"""The collective watchdog's limit: the configured timeout, never under a multiple of the slowest step seen."""
from __future__ import annotations

import time
from pathlib import Path

from paddlevideo_slowfast.engine.watchdog import SLOW_STEP_FACTOR, CollectiveWatchdog, resolve_timeout


def test_the_limit_grows_with_the_slowest_region(tmp_path: Path) -> None:
    dog = CollectiveWatchdog(tmp_path, rank=0, world_size=2, timeout=0.2)
    assert dog.limit() == 0.2
    dog.enter("first step", enforce=False)
    time.sleep(0.15)
    dog.leave()
    assert not dog.enforced and dog.limit() >= SLOW_STEP_FACTOR * 0.15 > 0.2
    dog.enter("second step")
    assert dog.enforced and dog.where == "second step"


def test_null_timeout_takes_the_backend_default() -> None:
    assert resolve_timeout(None, "gloo") < 30 and resolve_timeout(None, "nccl") == 1800
    assert resolve_timeout(7, "gloo") == 7.0
