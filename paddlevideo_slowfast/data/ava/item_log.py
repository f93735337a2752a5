"""What AVA items lost on the way, gathered from every loader worker: unreadable clips (as `BadVideoLog`) plus
counters (boxes a crop dropped, clips left without ground truth, proposal fallbacks).

Workers append one JSON line per event to the shared file `BadVideoLog.share()` made; the owner adds them up on
`drain()`, which the loader calls after every batch.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from typing import Dict

from ..bad_videos import BadVideo, BadVideoLog


class AVAItemLog(BadVideoLog):
    """Bad clips plus named counters of per-item losses; `totals()` reads the counters."""

    def __init__(self) -> None:
        super().__init__()
        self._counts: Counter = Counter()

    def count(self, **counts: int) -> None:
        """Add to the named counters (zeros ignored); from a worker through the shared file."""
        counts = {name: int(n) for name, n in counts.items() if n}
        if not counts:
            return
        if self._file is not None and os.getpid() != self._owner:
            fd = os.open(self._file, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, (json.dumps({"counts": counts}) + "\n").encode("utf-8"))
            finally:
                os.close(fd)
        else:
            self._counts.update(counts)

    def drain(self) -> None:
        """Take in what workers wrote since the last call: bad clips and counters."""
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
            if not line.strip():
                continue
            event = json.loads(line)
            if "counts" in event:
                self._counts.update(event["counts"])
            else:
                self._keep(BadVideo(**event))

    def totals(self) -> Dict[str, int]:
        """Every counter so far, from all workers."""
        self.drain()
        return dict(self._counts)
