"""Probing many members: bounded concurrency, and one failing probe marks only its member.
(Probes against real API servers are in e2e/test_reports.py.)"""

from __future__ import annotations

import asyncio

from mgmt.health.probes import capi_summary, probe_all


def members(n):
    return [{"metadata": {"name": f"m{i}", "namespace": "ns"}, "spec": {"cluster": f"c{i}"}} for i in range(n)]


async def test_probe_all_bounds_concurrency_and_isolates_failures():
    in_flight, peak = 0, 0

    async def probe(member):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.01)
            if member["metadata"]["name"] == "m3":
                raise RuntimeError("boom")
            return {"api": {"reachable": True, "latencyMs": 1}}
        finally:
            in_flight -= 1

    results = await probe_all(members(25), probe, concurrency=4)
    assert peak == 4
    assert len(results) == 25
    assert results["m3"] == {"api": {"reachable": False, "message": "probe failed: RuntimeError: boom"}}
    assert all(r["api"]["reachable"] for name, r in results.items() if name != "m3")


async def test_probe_all_keys():
    results = await probe_all(members(2), lambda m: asyncio.sleep(0, {"ok": True}), concurrency=1,
                              key=lambda m: f"{m['metadata']['namespace']}/{m['metadata']['name']}")
    assert set(results) == {"ns/m0", "ns/m1"}


def test_capi_summary_is_compact():
    cluster = {"spec": {}, "status": {
        "phase": "Provisioned",
        "initialization": {"infrastructureProvisioned": True, "controlPlaneInitialized": True},
        "conditions": [{"type": "Available", "status": "False", "reason": "NotAvailable", "message": "m" * 500,
                        "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}]}}
    out = capi_summary(cluster)
    assert out["phase"] == "Provisioned" and out["controlPlaneReady"] and out["infrastructureReady"]
    assert out["conditions"][0]["type"] == "Available" and len(out["conditions"][0]["message"]) == 120
    assert set(out["conditions"][0]) == {"type", "status", "reason", "message"}
    assert capi_summary(None) == {"message": "no Cluster API Cluster yet"}
