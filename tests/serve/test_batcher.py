"""The dynamic batcher: queued jobs share one forward up to max_batch views, each job gets its own rows, a larger
job is cut into passes of max_batch, a cancelled job is never run, a failing forward fails only its batch."""
from __future__ import annotations


import numpy as np
import pytest

from paddlevideo_slowfast.serve.batcher import Batcher
from paddlevideo_slowfast.serve.metrics import ServiceMetrics


class Recorder:
    """A forward that returns each view's id (its first value) and records the views of each call."""

    def __init__(self, fail_on: int = -1):
        self.calls, self.fail_on = [], fail_on

    def __call__(self, slow: np.ndarray, fast: np.ndarray) -> np.ndarray:
        ids = slow[:, 0].astype(int)
        self.calls.append(ids.tolist())
        if self.fail_on in ids:
            raise RuntimeError("forward failed")
        return np.stack([ids, fast[:, 0].astype(int)], axis=1)


def _job(*ids):
    values = np.array(ids, dtype=np.float32)[:, None]
    return values, values * 10


def test_queued_jobs_share_forwards_and_get_their_rows():
    forward, metrics = Recorder(), ServiceMetrics(4)
    batcher = Batcher(forward, max_batch=4, max_wait=0.5, metrics=metrics)
    futures = [batcher.submit(*_job(*ids)) for ids in ([1], [2, 3], [4], [5, 6, 7], [8])]
    assert metrics.waiting.value() == 8
    batcher.start()
    results = [f.result(timeout=10) for f in futures]
    batcher.stop()
    assert forward.calls == [[1, 2, 3, 4], [5, 6, 7, 8]]  # a job never splits across batches it does not fill
    for ids, result in zip(([1], [2, 3], [4], [5, 6, 7], [8]), results):
        assert result.tolist() == [[i, i * 10] for i in ids]
    assert metrics.waiting.value() == 0 and metrics.batch_size.count() == 2


def test_a_job_larger_than_max_batch_runs_alone_and_a_cancelled_one_not_at_all():
    forward = Recorder()
    batcher = Batcher(forward, max_batch=2, max_wait=0.0)
    dropped = batcher.submit(*_job(9))
    big = batcher.submit(*_job(1, 2, 3))
    assert dropped.cancel()
    batcher.start()
    assert big.result(timeout=10).shape == (3, 2)
    batcher.stop()
    assert forward.calls == [[1, 2, 3]]  # the forward itself cuts it into passes of max_batch (Predictor)


def test_a_failing_forward_fails_its_batch_only():
    forward = Recorder(fail_on=2)
    batcher = Batcher(forward, max_batch=1, max_wait=0.0)
    futures = [batcher.submit(*_job(i)) for i in (1, 2, 3)]
    batcher.start()
    assert futures[0].result(timeout=10).tolist() == [[1, 10]]
    with pytest.raises(RuntimeError, match="forward failed"):
        futures[1].result(timeout=10)
    assert futures[2].result(timeout=10).tolist() == [[3, 30]]
    batcher.stop()
    assert not batcher.alive
    with pytest.raises(RuntimeError, match="stopped"):
        batcher.submit(*_job(4))


def test_max_wait_gathers_jobs_arriving_late():
    forward = Recorder()
    batcher = Batcher(forward, max_batch=3, max_wait=30.0)
    batcher.start()
    first = batcher.submit(*_job(1))
    later = [batcher.submit(*_job(i)) for i in (2, 3)]  # the batch is full at 3 views: no need to wait 30 s
    assert [f.result(timeout=10).tolist() for f in [first] + later] == [[[1, 10]], [[2, 20]], [[3, 30]]]
    batcher.stop()
    assert forward.calls == [[1, 2, 3]]

