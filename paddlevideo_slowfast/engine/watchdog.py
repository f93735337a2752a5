"""A collective that does not return ends the job with a message instead of a hang: a thread notices this rank
waiting in a guarded region (a training step's all-reduce, a barrier) for longer than
`DISTRIBUTED.collective_timeout`, names the peers that stopped beating, and exits so that a scheduler can rerun
the job with `--resume auto`. A training step is guarded as a whole (its all-reduce runs inside backward), so the
limit is never under `SLOW_STEP_FACTOR` times the slowest region seen so far: a slow CPU step is not a hang.

Each rank's thread rewrites `<output>/.ranks/rank<r>.json` every `interval` seconds (a beat counter, the region
it is in); a peer whose counter stops moving is stopped (SIGSTOP) or dead. The counter is compared, never the
clock, so hosts need not agree on the time; ranks on another host are named only if the output folder is shared.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

HUNG_EXIT_CODE = 75          # EX_TEMPFAIL: try again, here with --resume auto
GLOO_ABORT_S = 30.0          # Paddle 3.3.1's ProcessGroupGloo aborts a collective waiting this long; not settable
AUTO_TIMEOUT_S = {"gloo": 25.0, "nccl": 1800.0}  # under gloo's own abort; Paddle's NCCL default (PADDLE_PG_TIMEOUT)
SLOW_STEP_FACTOR = 3.0
TIMEOUT_KEY = "DISTRIBUTED.collective_timeout"

_active: Optional["CollectiveWatchdog"] = None


def resolve_timeout(value: Optional[float], backend: str) -> float:
    """Seconds a rank may wait in a guarded collective: the config's value, or the backend's when it is null."""
    return float(value) if value is not None else AUTO_TIMEOUT_S.get(backend, AUTO_TIMEOUT_S["nccl"])


@contextlib.contextmanager
def guard(what: str, *, enforce: bool = True) -> Iterator[None]:
    """Mark the enclosed code as waiting on the other ranks (`what` names it in the message); with `enforce`
    False it is only timed (a first step that may compile an operator). No-op without a started watchdog."""
    watchdog = _active
    if watchdog is None:
        yield
        return
    watchdog.enter(what, enforce=enforce)
    try:
        yield
    finally:
        watchdog.leave()


def start_watchdog(cfg, folder: Path, device: str, rank: int, world_size: int,
                   log: logging.Logger) -> "CollectiveWatchdog":
    """The watchdog of a distributed run, with the timeout from the config (gloo on CPU, NCCL on GPU)."""
    from ..config import get

    backend = "gloo" if device == "cpu" else "nccl"
    timeout = resolve_timeout(get(cfg, TIMEOUT_KEY), backend)
    if rank == 0:
        log.info("collective timeout %.0f s (%s)", timeout, TIMEOUT_KEY)
        if backend == "gloo" and timeout >= GLOO_ABORT_S:
            log.warning("%s=%g is not reached on cpu: Paddle's gloo aborts a collective after %.0f s by itself, "
                        "with a message naming no rank; set it below %.0f to have the stopped rank named",
                        TIMEOUT_KEY, timeout, GLOO_ABORT_S, GLOO_ABORT_S)
    return CollectiveWatchdog(folder, rank, world_size, timeout, log=log).start()


class CollectiveWatchdog:
    """Heartbeat writer and timeout checker of one rank; `start` makes it the one `guard` reports to."""

    def __init__(self, folder: Path, rank: int, world_size: int, timeout: float, *, interval: float = 1.0,
                 log: Optional[logging.Logger] = None, exit_code: int = HUNG_EXIT_CODE):
        self.folder = Path(folder) / ".ranks"
        self.rank, self.world_size, self.timeout = rank, world_size, float(timeout)
        self.interval = min(float(interval), self.timeout / 4)
        self.log = log or logging.getLogger("paddlevideo_slowfast")
        self.exit_code = exit_code
        self.beats = 0
        self.entered = 0                  # guarded regions entered so far: how far this rank got
        self.where: Optional[str] = None  # the region the main thread is in, or None
        self.since = 0.0                  # monotonic time it entered it
        self.last = "start"               # the last region entered
        self.enforced = True              # whether the current region's limit applies
        self.slowest = 0.0                # seconds of the longest region that returned
        self._peers: Dict[int, tuple] = {}  # rank -> (beats seen, monotonic time they last changed)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "CollectiveWatchdog":
        global _active
        self.folder.mkdir(parents=True, exist_ok=True)
        self._beat()
        self._thread = threading.Thread(target=self._run, name="collective-watchdog", daemon=True)
        self._thread.start()
        _active = self
        return self

    def stop(self) -> None:
        global _active
        if _active is self:
            _active = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def enter(self, what: str, *, enforce: bool = True) -> None:
        self.entered += 1
        self.last = what
        self.enforced = enforce
        self.since = time.monotonic()
        self.where = what

    def leave(self) -> None:
        self.slowest = max(self.slowest, time.monotonic() - self.since)
        self.where = None

    def limit(self) -> float:
        """Seconds the current region may take: the timeout, or a multiple of the slowest region that returned."""
        return max(self.timeout, SLOW_STEP_FACTOR * self.slowest)

    def _beat(self) -> None:
        """Rewrite this rank's heartbeat file in one rename (a reader never sees half of it)."""
        self.beats += 1
        record = {"rank": self.rank, "host": socket.gethostname(), "pid": os.getpid(), "beats": self.beats,
                  "entered": self.entered, "last": self.last, "waiting": self.where is not None}
        path = self.folder / f"rank{self.rank}.json"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(record), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:  # a full or vanished disk must not kill training: only the naming suffers
            pass

    def _read(self, rank: int) -> Optional[dict]:
        try:
            return json.loads((self.folder / f"rank{rank}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _track_peers(self) -> None:
        now = time.monotonic()
        for rank in range(self.world_size):
            if rank == self.rank:
                continue
            record = self._read(rank)
            beats = record.get("beats") if record else None
            seen = self._peers.get(rank)
            if seen is None or seen[0] != beats:
                self._peers[rank] = (beats, now)

    def diagnose(self) -> List[str]:
        """One phrase per peer that is the likely cause: silent (stopped or dead), or alive elsewhere."""
        now, causes = time.monotonic(), []
        for rank in range(self.world_size):
            if rank == self.rank:
                continue
            record = self._read(rank)
            beats, changed = self._peers.get(rank, (None, now))
            if record is None:
                causes.append(f"rank {rank}: no heartbeat in {self.folder} (its output folder is not this one?)")
            elif now - changed >= max(3 * self.interval, 1.0):
                causes.append(f"rank {rank} (pid {record.get('pid')} on {record.get('host')}): no heartbeat for "
                              f"{now - changed:.0f} s, stopped or dead; its last region: {record.get('last')}")
            elif int(record.get("entered", 0)) < self.entered or not record.get("waiting"):
                causes.append(f"rank {rank} (pid {record.get('pid')} on {record.get('host')}): alive but not "
                              f"waiting here; its last region: {record.get('last')}")
        return causes

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._beat()
            where = self.where
            if where is None:
                self._peers.clear()
                continue
            self._track_peers()
            waited = time.monotonic() - self.since
            if self.enforced and waited >= self.limit() and self.where == where:
                self._expire(where, waited)

    def _expire(self, where: str, waited: float) -> None:
        causes = self.diagnose()
        self.log.error("rank %d: %s did not return within %.0f s (%s); %s; exiting with code %d",
                       self.rank, where, waited, TIMEOUT_KEY,
                       "; ".join(causes) if causes else "no peer is known to have stopped", self.exit_code)
        for handler in self.log.handlers:
            handler.flush()
        os._exit(self.exit_code)
