"""What AVA items lost on the way, gathered from every loader worker: unreadable clips (as `BadVideoLog`) plus
counters (boxes a crop dropped, clips left without ground truth, proposal fallbacks).

Workers append one JSON line per event to the shared file `BadVideoLog.share()` made; the owner adds them up on
`drain()`, which the loader calls after every batch.
"""
from __future__ import annotations

from collections import Counter
from typing import Dict

from ..bad_videos import BadVideoLog


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
        if self.in_worker():
            self.append({"counts": counts})
        else:
            self._counts.update(counts)

    def take(self, event: Dict) -> None:
        """One event a worker wrote: counters, or a bad clip."""
        if "counts" in event:
            self._counts.update(event["counts"])
        else:
            super().take(event)

    def totals(self) -> Dict[str, int]:
        """Every counter so far, from all workers."""
        self.drain()
        return dict(self._counts)
