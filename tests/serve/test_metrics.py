"""Prometheus text exposition: labels escaped, cumulative histogram buckets, sum and count."""
from __future__ import annotations

from paddlevideo_slowfast.serve.metrics import ServiceMetrics


def test_metrics_exposition():
    metrics = ServiceMetrics(8)
    metrics.requests.inc(route="/v1/predict", code="200")
    metrics.errors.inc(reason='say "hi"\n')
    metrics.latency.observe(0.03)
    metrics.latency.observe(7)
    text = metrics.text()
    assert 'paddlevideo_requests_total{route="/v1/predict",code="200"} 1' in text
    assert 'paddlevideo_errors_total{reason="say \\"hi\\"\\n"} 1' in text
    assert 'paddlevideo_request_seconds_bucket{le="0.025"} 0' in text
    assert 'paddlevideo_request_seconds_bucket{le="0.05"} 1' in text
    assert 'paddlevideo_request_seconds_bucket{le="10"} 2' in text
    assert "paddlevideo_request_seconds_count 2" in text and "paddlevideo_request_seconds_sum 7.03" in text
