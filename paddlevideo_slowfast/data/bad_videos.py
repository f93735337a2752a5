"""The record of bad videos a dataset met, gathered from all its loader workers: logged once per file, counted.

Workers are separate processes, so their records travel through an append-only temp file (one JSON line each,
one write() call: appends do not interleave, never block, and survive a worker's abrupt exit); the owning
process reads new lines on `drain()`. Without `share()` (no workers) records are kept directly.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import weakref
from typing import Dict, List, NamedTuple, Optional, Tuple

logger = logging.getLogger("paddlevideo_slowfast.data")


class BadVideo(NamedTuple):
    """One failed read: the item index, the file, why, the mode, and in training the item drawn instead."""

    index: int
    path: str
    reason: str
    mode: str
    substitute: Optional[int] = None


class BadVideoLog:
    """Bad videos of one dataset: `videos` (distinct files), `events` (every failed read), `substitutions`."""

    def __init__(self) -> None:
        self._owner = os.getpid()
        self._file: Optional[str] = None
        self._offset = 0
        self.records: List[BadVideo] = []
        self._first: Dict[str, BadVideo] = {}

    def share(self) -> None:
        """Let forked loader workers report here (call in the owning process before the workers start)."""
        if self._file is None:
            fd, self._file = tempfile.mkstemp(prefix="paddlevideo-bad-videos-", suffix=".jsonl")
            os.close(fd)
            weakref.finalize(self, _remove, self._file, self._owner)

    def in_worker(self) -> bool:
        """Whether this process is a loader worker writing to the shared file (not the owner)."""
        return self._file is not None and os.getpid() != self._owner

    def append(self, event: Dict) -> None:
        """Write one event (a JSON object) as one line of the shared file: one write() call, never interleaved."""
        fd = os.open(self._file, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, (json.dumps(event) + "\n").encode("utf-8"))
        finally:
            os.close(fd)

    def record(self, bad: BadVideo) -> None:
        """Note one failed read; from a worker it goes to the shared file, in the owner it is kept and logged."""
        if self.in_worker():
            self.append(bad._asdict())
        else:
            self._keep(bad)

    def take(self, event: Dict) -> None:
        """One event a worker wrote, in the owner: here always a bad video."""
        self._keep(BadVideo(**event))

    def _keep(self, bad: BadVideo) -> None:
        self.records.append(bad)
        if bad.path not in self._first:
            self._first[bad.path] = bad
            action = (f"training draws item {bad.substitute} instead" if bad.substitute is not None
                      else "reported as unscored")
            logger.warning("bad video %s: %s (%s item %d; %s)", bad.path, bad.reason, bad.mode, bad.index, action)

    def drain(self) -> None:
        """Take in what workers have written since the last call."""
        if self._file is None or os.getpid() != self._owner:
            return
        try:
            with open(self._file, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return
        complete = data.rfind(b"\n") + 1
        self._offset += complete
        for line in data[:complete].splitlines():
            if line.strip():
                self.take(json.loads(line))

    @property
    def videos(self) -> List[Tuple[str, str]]:
        """Distinct bad files, first seen first, as (path, reason)."""
        self.drain()
        return [(b.path, b.reason) for b in self._first.values()]

    @property
    def events(self) -> int:
        self.drain()
        return len(self.records)

    @property
    def substitutions(self) -> int:
        self.drain()
        return sum(1 for b in self.records if b.substitute is not None)

    @property
    def unscored(self) -> List[int]:
        """Indices of validation/test items reported unscored, sorted, each once."""
        self.drain()
        return sorted({b.index for b in self.records if b.substitute is None})


def _remove(path: str, owner: int) -> None:
    if os.getpid() == owner:
        try:
            os.remove(path)
        except OSError:
            pass


class RecordsBadVideos:
    """What a dataset reports of the videos it could not read, from its `bad` log (a BadVideoLog)."""

    bad: BadVideoLog

    @property
    def bad_videos(self) -> List[Tuple[str, str]]:
        """Distinct unreadable videos met so far, as (path, reason)."""
        return self.bad.videos

    @property
    def bad_count(self) -> int:
        return len(self.bad.videos)

    @property
    def unscored(self) -> List[int]:
        """Validation/test item indices whose video could not be read."""
        return self.bad.unscored

    @property
    def substitutions(self) -> int:
        return self.bad.substitutions

