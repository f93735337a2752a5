"""Counters, gauges and histograms in Prometheus's text exposition format (version 0.0.4), thread-safe.

Written here rather than taken from prometheus_client: the service needs four families and one text page, and
the batcher thread and the event loop both update them, which a lock per family covers.
"""
from __future__ import annotations

import math
import threading
from typing import Dict, Iterable, List, Sequence, Tuple

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = Tuple[Tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_text(labels: Labels, extra: Labels = ()) -> str:
    pairs = labels + extra
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Family:
    kind = ""

    def __init__(self, name: str, help_text: str, label_names: Sequence[str] = ()):
        self.name, self.help, self.label_names = name, help_text, tuple(label_names)
        self._lock = threading.Lock()

    def _key(self, labels: Dict[str, str]) -> Labels:
        if set(labels) != set(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {sorted(labels)}")
        return tuple((n, str(labels[n])) for n in self.label_names)

    def header(self) -> List[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Family):
    """A monotonically increasing count per label set (`requests_total{code="200"}`)."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, label_names: Sequence[str] = ()):
        super().__init__(name, help_text, label_names)
        self._values: Dict[Labels, float] = {} if label_names else {(): 0.0}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def lines(self) -> List[str]:
        with self._lock:
            items = sorted(self._values.items())
        return self.header() + [f"{self.name}{_label_text(k)} {_number(v)}" for k, v in items]


class Gauge(_Family):
    """A value that goes up and down (queue depth, requests in flight)."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str):
        super().__init__(name, help_text)
        self._value = 0.0

    def set(self, value: float) -> None:
        with self._lock:
            self._value = float(value)

    def add(self, amount: float) -> None:
        with self._lock:
            self._value += amount

    def value(self) -> float:
        with self._lock:
            return self._value

    def lines(self) -> List[str]:
        return self.header() + [f"{self.name} {_number(self.value())}"]


class Histogram(_Family):
    """Observations counted into cumulative buckets `le`, with their sum and count."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: Iterable[float]):
        super().__init__(name, help_text)
        self.buckets = tuple(sorted(float(b) for b in buckets)) + (math.inf,)
        self._counts = [0] * len(self.buckets)
        self._sum = 0.0

    def observe(self, value: float) -> None:
        with self._lock:
            self._sum += value
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    self._counts[i] += 1
                    break

    def count(self) -> int:
        with self._lock:
            return sum(self._counts)

    def mean(self, default: float = 0.0) -> float:
        with self._lock:
            count = sum(self._counts)
            return self._sum / count if count else default

    def lines(self) -> List[str]:
        with self._lock:
            counts, total = list(self._counts), self._sum
        out, running = self.header(), 0
        for bound, n in zip(self.buckets, counts):
            running += n
            out.append(f"{self.name}_bucket{_label_text((), (('le', _number(bound)),))} {running}")
        out += [f"{self.name}_sum {_number(total)}", f"{self.name}_count {running}"]
        return out


class ServiceMetrics:
    """The families `/metrics` shows: requests by route and status, errors by reason, queue depth, requests in
    flight, forward batch sizes (in views), request latency."""

    def __init__(self, max_batch: int):
        self.requests = Counter("paddlevideo_requests_total", "HTTP requests answered, by route and status code",
                                ("route", "code"))
        self.errors = Counter("paddlevideo_errors_total", "requests refused or failed, by reason", ("reason",))
        self.queue_depth = Gauge("paddlevideo_queue_depth", "requests admitted and not yet answered")
        self.waiting = Gauge("paddlevideo_batch_queue_views", "views waiting for a forward pass")
        bounds = sorted({1, 2, 4, 8, 16, 32, 64, max_batch})
        self.batch_size = Histogram("paddlevideo_batch_size",
                                    "views per forward pass (a detector's: one keyframe clip)", bounds)
        self.latency = Histogram("paddlevideo_request_seconds",
                                 "time from admission to answer of /v1/predict and /v1/detect",
                                 (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
        self.streams = Gauge("paddlevideo_streams", "live streams being classified")
        self.windows = Counter("paddlevideo_stream_windows_total", "live stream windows classified")
        self.reconnects = Counter("paddlevideo_stream_reconnects_total", "live stream reconnections")

    def families(self) -> List[_Family]:
        return [self.requests, self.errors, self.queue_depth, self.waiting, self.batch_size, self.latency,
                self.streams, self.windows, self.reconnects]

    def text(self) -> str:
        """The exposition page."""
        return "\n".join(line for family in self.families() for line in family.lines()) + "\n"
