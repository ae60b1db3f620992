"""Prometheus metrics of the controller, on a registry of its own (so tests and embedding
never collide with the process-wide default registry)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from mgmt.health.aggregate import PHASES

REGISTRY = CollectorRegistry(auto_describe=True)

FLEET_MEMBERS = Gauge("drover_fleet_members", "FleetMembers by phase.",
                      ["namespace", "fleet", "phase"], registry=REGISTRY)
FLEET_DESIRED = Gauge("drover_fleet_clusters_desired", "Clusters a Fleet declares or adopted.",
                      ["namespace", "fleet"], registry=REGISTRY)
MEMBER_READY = Gauge("drover_member_ready", "1 when the member's phase is Ready.",
                     ["namespace", "fleet", "cluster"], registry=REGISTRY)
MEMBER_LATENCY = Gauge("drover_member_api_latency_seconds", "Latency of the last GET /readyz.",
                       ["namespace", "fleet", "cluster"], registry=REGISTRY)
MEMBER_NODES_READY = Gauge("drover_member_nodes_ready", "Ready Nodes of the member's cluster.",
                           ["namespace", "fleet", "cluster"], registry=REGISTRY)
MEMBER_LAST_PROBE = Gauge("drover_member_last_probe_timestamp_seconds", "When the member was last probed.",
                          ["namespace", "fleet", "cluster"], registry=REGISTRY)
PROBE_SECONDS = Histogram("drover_probe_duration_seconds", "Time each part of a member probe took.",
                          ["part"], registry=REGISTRY,
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
PROBE_FAILURES = Counter("drover_probe_failures_total", "Probe parts that failed.", ["part"], registry=REGISTRY)
RECONCILES = Counter("drover_reconcile_total", "Reconciles run.", ["kind"], registry=REGISTRY)
RECONCILE_ERRORS = Counter("drover_reconcile_errors_total", "Reconciles that failed.", ["kind", "reason"],
                           registry=REGISTRY)


def observe_fleet(namespace: str, fleet: str, status: dict, members: list[dict]) -> None:
    """Set a Fleet's gauges from its aggregated status and its members."""
    by_phase = {phase: 0 for phase in PHASES}
    for member in members:
        phase = (member.get("status") or {}).get("phase") or "Pending"
        by_phase[phase] = by_phase.get(phase, 0) + 1
    for phase, count in by_phase.items():
        FLEET_MEMBERS.labels(namespace, fleet, phase).set(count)
    FLEET_DESIRED.labels(namespace, fleet).set((status.get("counts") or {}).get("desired", 0))


def observe_member(namespace: str, fleet: str, cluster: str, status: dict) -> None:
    """Set a member's gauges after a probe (the probe time lives here, not in a status write)."""
    MEMBER_LAST_PROBE.labels(namespace, fleet, cluster).set(time.time())
    MEMBER_READY.labels(namespace, fleet, cluster).set(1 if status.get("phase") == "Ready" else 0)
    latency = (status.get("api") or {}).get("latencyMs")
    if latency is not None:
        MEMBER_LATENCY.labels(namespace, fleet, cluster).set(latency / 1000)
    MEMBER_NODES_READY.labels(namespace, fleet, cluster).set((status.get("nodes") or {}).get("ready", 0))


def forget_member(namespace: str, fleet: str, cluster: str) -> None:
    for gauge in (MEMBER_READY, MEMBER_LATENCY, MEMBER_NODES_READY, MEMBER_LAST_PROBE):
        try:
            gauge.remove(namespace, fleet, cluster)
        except KeyError:
            pass


def forget_fleet(namespace: str, fleet: str) -> None:
    for phase in PHASES:
        try:
            FLEET_MEMBERS.remove(namespace, fleet, phase)
        except KeyError:
            pass
    try:
        FLEET_DESIRED.remove(namespace, fleet)
    except KeyError:
        pass


def serve(port: int, host: str = "127.0.0.1"):
    """Serve /metrics in a background thread; returns the server (call `.shutdown()` to stop)."""
    server, _thread = start_http_server(port, addr=host, registry=REGISTRY)
    return server
