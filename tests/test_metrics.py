"""The metrics endpoint serves the fleet and member gauges on 127.0.0.1."""

from __future__ import annotations

import urllib.request

from devtools.processes import free_port
from mgmt import metrics


def test_metrics_endpoint_serves_fleet_and_member_gauges():
    members = [{"status": {"phase": "Ready"}}, {"status": {"phase": "Unreachable"}}]
    metrics.observe_fleet("ns", "prod", {"counts": {"desired": 2}}, members)
    metrics.observe_member("ns", "prod", "a", {"phase": "Ready", "api": {"latencyMs": 12}, "nodes": {"ready": 3}})
    metrics.PROBE_SECONDS.labels("readyz").observe(0.012)
    metrics.RECONCILES.labels("Fleet").inc()
    metrics.RECONCILE_ERRORS.labels("Fleet", "Conflict").inc()
    port = free_port()
    server = metrics.serve(port)
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert 'drover_fleet_members{fleet="prod",namespace="ns",phase="Ready"} 1.0' in text
    assert 'drover_fleet_members{fleet="prod",namespace="ns",phase="Unreachable"} 1.0' in text
    assert 'drover_fleet_clusters_desired{fleet="prod",namespace="ns"} 2.0' in text
    assert 'drover_member_ready{cluster="a",fleet="prod",namespace="ns"} 1.0' in text
    assert 'drover_member_api_latency_seconds{cluster="a",fleet="prod",namespace="ns"} 0.012' in text
    assert 'drover_probe_duration_seconds_count{part="readyz"}' in text
    assert 'drover_member_last_probe_timestamp_seconds{cluster="a",fleet="prod",namespace="ns"}' in text
    assert 'drover_reconcile_errors_total{kind="Fleet",reason="Conflict"} 1.0' in text
    metrics.forget_member("ns", "prod", "a")
    metrics.forget_fleet("ns", "prod")
    assert metrics.MEMBER_READY.collect()[0].samples == []
