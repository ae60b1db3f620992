"""`make bench`: performance figures of Drover on this machine, printed as a table.

Measures rendering and aggregation in-process, then a real management plane, the real controller
and local provider converging a Fleet of three local clusters with a two-component stack, and a
no-op stack sync. It never fails on a number, only when something is broken (exit 1). Every
process it starts is stopped, all state lives in a temporary directory.

`python -m e2e.bench --smoke` runs the same code at its smallest size (one cluster, short waits);
`make test` runs it (e2e/test_bench_smoke.py) so that the bench cannot break unnoticed. Another
bench hooks in the same way: a `--smoke` flag, `report()` below, and a line in that test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

import providers
from devtools import processes
from devtools.demo import sample_path
from devtools.toolchain import cache_dir
from e2e.bench_audit import BenchPlane, Requests, breakdown, writes
from e2e.fixtures.controller import ControllerProcess
from e2e.fixtures.local import LocalProvider
from mgmt.api.models import API_VERSION
from mgmt.health.aggregate import aggregate
from mgmt.kube import Kube
from mgmt.render import render_cluster
from mgmt.stack import MemberTarget, StackEngine
from mgmt.workload import WorkloadClients
from providers.base import ClusterRequest, Credentials, WorkerPool

NAMESPACE, FLEET = "bench", "bench"
PROBE_SECONDS = 5


@dataclass(frozen=True)
class Size:
    """How much the bench does: FULL for `make bench`, SMOKE for its run inside `make test`."""

    clusters: int  # the first ones of the sample Fleet
    render_seconds: float  # per provider/flavor, at least `repeats` renders
    aggregate_members: tuple[int, ...]
    repeats: int  # runs behind each median
    plane_idle_seconds: int
    idle_cycles: int
    converge_timeout: int  # a broken controller, not a slow one: no figure is judged


FULL = Size(clusters=3, render_seconds=0.4, aggregate_members=(1_000, 10_000), repeats=5,
            plane_idle_seconds=20, idle_cycles=3, converge_timeout=480)
SMOKE = Size(clusters=1, render_seconds=0, aggregate_members=(100,), repeats=1,
             plane_idle_seconds=2, idle_cycles=1, converge_timeout=300)


class Table:
    HEADER = ("section", "figure", "value")

    def __init__(self):
        self.rows: list[tuple[str, str, str]] = []

    def add(self, section: str, what: str, value: str) -> None:
        self.rows.append((section, what, value))
        print(f"  {section}: {what} = {value}", file=sys.stderr, flush=True)

    def render(self) -> str:
        widths = [max(len(r[i]) for r in self.rows + [self.HEADER]) for i in range(3)]
        line = "  ".join("-" * w for w in widths)
        out = ["  ".join(h.ljust(w) for h, w in zip(self.HEADER, widths)), line]
        last = None
        for section, what, value in self.rows:
            out.append("  ".join(c.ljust(w) for c, w in zip((section if section != last else "", what, value),
                                                              widths)))
            last = section
        return "\n".join(row.rstrip() for row in out)


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def rss(pid: int | None) -> int:
    try:
        return processes.resident_memory_kib(pid) if pid else 0
    except FileNotFoundError:
        return 0


# -- in-process figures -----------------------------------------------------------------------

# Synthetic credentials and variables: enough for every template to render, never sent anywhere.
GCP_KEY = json.dumps({"type": "service_account", "project_id": "bench", "client_email": "bench@bench.iam",
                      "private_key": "not-a-key", "token_uri": "https://oauth2.googleapis.com/token"})
RENDER_INPUT = {
    "aws": ({"AWS_ACCESS_KEY_ID": "AKIABENCH", "AWS_SECRET_ACCESS_KEY": "bench"}, {}),
    "gcp": ({"credentials.json": GCP_KEY}, {"GCP_NETWORK_NAME": "default", "IMAGE_ID": "projects/p/global/images/i"}),
    "azure": ({"AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s", "AZURE_TENANT_ID": "t",
               "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000001"}, {}),
    "digitalocean": ({"DIGITALOCEAN_ACCESS_TOKEN": "bench"},
                     {"DO_CONTROL_PLANE_MACHINE_IMAGE": "1", "DO_NODE_MACHINE_IMAGE": "1",
                      "DO_SSH_KEY_FINGERPRINT": "aa:bb"}),
    "packet": ({"PACKET_API_KEY": "bench"}, {"PACKET_PROJECT_ID": "p-1"}),
    "vsphere": ({"username": "bench@vsphere.local", "password": "bench"},
                {"VSPHERE_SERVER": "vc.bench", "VSPHERE_TLS_THUMBPRINT": "AA:BB", "VSPHERE_DATASTORE": "ds",
                 "VSPHERE_NETWORK": "VM Network", "VSPHERE_RESOURCE_POOL": "*/Resources", "VSPHERE_FOLDER": "vm",
                 "VSPHERE_TEMPLATE": "t", "CONTROL_PLANE_ENDPOINT_IP": "10.0.0.1",
                 "VSPHERE_SSH_AUTHORIZED_KEY": "ssh-ed25519 AAAA"}),
    "local": (None, {}),
}


def bench_rendering(table: Table, size: Size) -> None:
    for provider in providers.NAMES:
        data, variables = RENDER_INPUT[provider]
        credentials = Credentials(f"{provider}-credentials", data) if data is not None else None
        for flavor in providers.get(provider).flavors:
            request = ClusterRequest(name="bench-1", namespace=NAMESPACE, provider=provider, flavor=flavor,
                                     kubernetes_version="v1.35.8", region="us-east-1",
                                     workers=(WorkerPool("md-0", 2), WorkerPool("md-1", 1)),
                                     variables=variables, fleet=FLEET)
            count, objects, started = 0, 0, time.perf_counter()
            while count < size.repeats or time.perf_counter() - started < size.render_seconds:
                objects = len(render_cluster(request, credentials))
                count += 1
            rate = count / (time.perf_counter() - started)
            table.add("rendering", f"{provider}/{flavor} (2 pools, {objects} objects)", f"{rate:,.0f} clusters/s")


def synthetic_members(n: int) -> tuple[dict, list[dict]]:
    phases = ["Ready"] * 90 + ["Degraded"] * 4 + ["Unreachable"] * 3 + ["Provisioning"] * 3
    members = []
    for i in range(n):
        phase = phases[i % len(phases)]
        members.append({
            "metadata": {"name": f"f-c{i:05d}", "namespace": NAMESPACE},
            "spec": {"fleet": "f", "cluster": f"c{i:05d}"},
            "status": {"phase": phase, "components": [{"name": "a", "ready": phase == "Ready"}],
                       "conditions": [{"type": "Ready", "status": "True" if phase == "Ready" else "False",
                                       "reason": phase, "message": f"{phase}: " + "details " * 40,
                                       "lastTransitionTime": f"2026-01-01T{i % 24:02d}:00:00Z"}]}})
    fleet = {"metadata": {"name": "f", "namespace": NAMESPACE, "generation": 1},
             "spec": {"clusters": [{"name": m["spec"]["cluster"]} for m in members]}, "status": {}}
    return fleet, members


def bench_aggregation(table: Table, size: Size) -> None:
    for n in size.aggregate_members:
        fleet, members = synthetic_members(n)
        times = []
        for _ in range(size.repeats):
            started = time.perf_counter()
            status = aggregate(fleet, members, now="2026-01-02T00:00:00Z")
            times.append(time.perf_counter() - started)
        status_bytes = len(json.dumps({"status": status}))
        table.add("aggregation", f"{n:,} members: aggregate()", f"{statistics.median(times) * 1000:.1f} ms (median of {size.repeats})")
        table.add("aggregation", f"{n:,} members: Fleet status", f"{status_bytes:,} bytes")


# -- the management plane ------------------------------------------------------------------------

def bench_plane(plane: BenchPlane, table: Table, size: Size) -> dict[str, int]:
    started = time.monotonic()
    plane.up()
    table.add("mgmt plane", "ManagementPlane.up() (etcd, apiserver, kcm, CRDs, CAPI)",
              f"{time.monotonic() - started:.1f} s")
    pids = {name: pid for name, pid in plane.describe()["pids"].items() if pid}
    time.sleep(size.plane_idle_seconds)
    for name, pid in pids.items():
        table.add("mgmt plane", f"RSS {name}, idle {size.plane_idle_seconds} s after up", mib(rss(pid)))
    table.add("mgmt plane", "RSS total", mib(sum(rss(p) for p in pids.values())))
    return pids


# -- the controller converging a local fleet ---------------------------------------------------------

def bench_fleet(size: Size) -> dict:
    fleet = next(d for d in yaml.safe_load_all(sample_path().read_text()) if d and d["kind"] == "Fleet")
    fleet["metadata"] = {"name": FLEET, "namespace": NAMESPACE}
    fleet["spec"]["health"] = {"probeInterval": f"{PROBE_SECONDS}s"}
    fleet["spec"]["clusters"] = fleet["spec"]["clusters"][:size.clusters]
    for i, cluster in enumerate(fleet["spec"]["clusters"], 1):
        cluster["name"] = f"bench-{i}"
        cluster["workers"] = [{"name": "md-0", "replicas": 1}]
    assert len(fleet["spec"]["clusters"]) == size.clusters and len(fleet["spec"]["stack"]["components"]) == 2
    return fleet


def _condition(fleet: dict, type_: str) -> str | None:
    return next((c["status"] for c in (fleet.get("status") or {}).get("conditions", []) if c["type"] == type_), None)


async def converge(kube: Kube, size: Size, started: float, diagnostics) -> dict[str, float]:
    """Seconds from the apply until each milestone; returns once the fleet and its stack are ready."""
    seen: dict[str, float] = {}
    while True:
        fleet = await kube.get(API_VERSION, "Fleet", FLEET, NAMESPACE) or {}
        counts = (fleet.get("status") or {}).get("counts") or {}
        elapsed = time.monotonic() - started
        milestones = {"first Fleet status": bool(counts),
                      "Provisioned=True": _condition(fleet, "Provisioned") == "True",
                      "Ready=True": _condition(fleet, "Ready") == "True",
                      "stack ready on all (StackReady=True)": _condition(fleet, "StackReady") == "True"
                      and counts.get("stackReady") == counts.get("desired") == size.clusters}
        for name, reached in milestones.items():
            if reached and name not in seen:
                seen[name] = elapsed
        if milestones["Ready=True"] and milestones["stack ready on all (StackReady=True)"]:
            return seen
        if elapsed > size.converge_timeout:
            raise TimeoutError(f"fleet not ready after {size.converge_timeout}s: {(fleet.get('status') or {}).get('display')}"
                               f"\n{diagnostics()}")
        await asyncio.sleep(1)


def probes_done(controller: ControllerProcess) -> float:
    """How many /readyz probe parts the controller has run (one per member per probe cycle)."""
    for family in text_string_to_metric_families(controller.metrics()):
        for sample in family.samples:
            if sample.name == "drover_probe_duration_seconds_count" and sample.labels.get("part") == "readyz":
                return sample.value
    return 0.0


def tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


def top(counter, n: int = 6) -> str:
    return ", ".join(f"{k} {v}" for k, v in counter.most_common(n)) or "none"


async def bench_controller(plane: BenchPlane, root: Path, table: Table, size: Size, seen_pids: set[int]) -> None:
    requests = Requests(plane.apiserver().audit_log)
    provider = LocalProvider(plane.kubeconfig, root / "local" / "state")
    provider.state_dir.mkdir(parents=True)
    # The controller watches the bench's namespace only; the local provider watches every namespace.
    controller = ControllerProcess(plane.controller_kubeconfig, root / "controller.log",
                                   {"AWS_EC2_METADATA_DISABLED": "true"}, namespaces=(NAMESPACE,))
    kube = await Kube.from_kubeconfig(str(plane.kubeconfig))

    def diagnostics() -> str:
        return (f"local provider log:\n{provider.log_tail(20)}\n"
                f"controller log:\n{tail(controller.logs(), 20)}")

    try:
        # Before the controller starts: kopf never sees a namespace made while it lists them.
        await kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        provider.start()
        seen_pids.add(provider.proc.pid)
        started = time.monotonic()
        controller.start()
        seen_pids.add(controller.proc.pid)
        table.add("controller", "start until /metrics answers", f"{time.monotonic() - started:.1f} s")
        await measure_convergence(kube, requests, table, size, diagnostics)
        await measure_idle(controller, requests, table, size)
        table.add("memory", "RSS drover controller", mib(rss(controller.proc.pid)))
        table.add("memory", "RSS drover local-provider", mib(rss(provider.proc.pid)))
        report_cluster_memory(provider, table, seen_pids)
        controller.stop()  # the stack engine is measured alone, on the same clusters
        await bench_stack_engine(kube, table, size)
    finally:
        await kube.close()
        controller.stop()
        provider.record_pids()
        seen_pids.update(provider.seen)
        left = provider.stop_everything()
        if left:
            raise RuntimeError(f"local cluster processes left running: {left}")


async def measure_convergence(kube: Kube, requests: Requests, table: Table, size: Size,
                              diagnostics: Callable[[], str]) -> None:
    table.add("convergence", "Fleet", f"{size.clusters} local cluster(s) x 1 worker, stack of 2 components, "
                                      f"probes every {PROBE_SECONDS} s")
    mark, started = requests.mark(), time.monotonic()
    await kube.apply(bench_fleet(size))
    milestones = await converge(kube, size, started, diagnostics)
    for name, seconds in milestones.items():
        table.add("convergence", f"apply -> {name}", f"{seconds:.1f} s")
    during = requests.since(mark)
    table.add("convergence", "controller API requests to mgmt", f"{len(during)} ({len(writes(during))} writes)")
    table.add("convergence", "  writes by kind (top 4)", top(breakdown(writes(during)), 4))


async def measure_idle(controller: ControllerProcess, requests: Requests, table: Table, size: Size) -> None:
    await asyncio.sleep(PROBE_SECONDS + 1)  # let the last status of the convergence land
    mark, probes_before = requests.mark(), probes_done(controller)
    await asyncio.sleep(PROBE_SECONDS * size.idle_cycles)
    idle, cycles = requests.since(mark), (probes_done(controller) - probes_before) / size.clusters
    idle_writes = writes(idle)
    table.add("idle", f"{PROBE_SECONDS * size.idle_cycles} s: probe cycles run (controller metrics)",
              f"{cycles:.0f}")
    table.add("idle", "controller writes to mgmt (should be 0)",
              str(len(idle_writes)) + (f": {top(breakdown(idle_writes))}" if idle_writes else ""))
    per_cycle = f"{len(idle) / cycles:.1f}" if cycles else "n/a (no probe ran)"
    table.add("idle", "controller API requests to mgmt per probe cycle", f"{per_cycle} (all loops, {len(idle)} total)")
    table.add("idle", "  requests by kind", top(breakdown(idle), 5))


def report_cluster_memory(provider: LocalProvider, table: Table, seen_pids: set[int]) -> None:
    by_dir: dict[Path, dict[str, int]] = {}
    for path, pid in provider.record_pids().items():
        seen_pids.add(pid)
        by_dir.setdefault(path.parent, {})[path.stem] = rss(pid)
    for directory, components in sorted(by_dir.items()):
        label = "shared etcd of local clusters" if directory.name == "etcd" else f"cluster {directory.name}"
        detail = ", ".join(f"{name} {mib(kib)}" for name, kib in sorted(components.items()))
        table.add("memory", f"RSS {label}", f"{mib(sum(components.values()))}" +
                  (f" ({detail})" if len(components) > 1 else ""))


# -- the stack engine --------------------------------------------------------------------------

async def bench_stack_engine(kube: Kube, table: Table, size: Size) -> None:
    """What the controller's stack loop does every 5 s once everything is in place."""
    fleet = await kube.get(API_VERSION, "Fleet", FLEET, NAMESPACE)
    members = await kube.list(API_VERSION, "FleetMember", NAMESPACE)
    recorded = {m["spec"]["cluster"]: (m.get("status") or {}).get("components", []) for m in members}
    targets = [MemberTarget(c["name"], NAMESPACE, "local", None, c.get("labels", {})) for c in fleet["spec"]["clusters"]]
    clients = WorkloadClients(kube)
    engine = StackEngine(kube, clients)
    try:
        started = time.perf_counter()
        first = await engine.sync(fleet, targets, recorded)
        table.add("stack engine", f"first sync, {len(targets)} cluster(s) (new clients)",
                  f"{(time.perf_counter() - started) * 1000:.0f} ms")
        times, changed = [], False
        for _ in range(size.repeats):
            recorded = {name: result.components for name, result in first.items()}
            started = time.perf_counter()
            first = await engine.sync(fleet, targets, recorded)
            times.append(time.perf_counter() - started)
            changed |= any(r.changed for r in first.values())
        broken = [n for n, r in first.items() if not r.reachable or not all(c.get("ready") for c in r.components)]
        if broken:
            raise RuntimeError(f"stack not ready on {broken} in the no-op sync")
        table.add("stack engine", f"no-op sync, {len(targets)} cluster(s) x 2 components",
                  f"{statistics.median(times) * 1000:.0f} ms (median of {size.repeats}; changed anything: {changed})")
    finally:
        await clients.close()


# -- main --------------------------------------------------------------------------------------

def versions() -> str:
    try:
        saved = json.loads((cache_dir() / "versions.json").read_text())
    except FileNotFoundError:
        return "versions: ~/.cache/drover/versions.json not found (run `make tools`)"
    tools = ", ".join(f"{name} {version}" for name, version in saved.get("binaries", {}).items())
    return f"built with {saved.get('go', '?')}: {tools}"


MEANING = (
    "What these numbers mean: one run on this machine (2 cores, shared), for spotting regressions and sizing, "
    "not a pass/fail gate.\nRendering and aggregation are pure Python in one process; convergence includes "
    "the local provider starting a real apiserver, controller-manager, scheduler and kwok per cluster; "
    "'API requests' are the controller's requests to the management apiserver (from its audit log, which "
    "logs every request of the controller's ServiceAccount), idle ones include the stack loop's reads; requests to "
    "the workload clusters (probes: /readyz, /version, Nodes; stack reads) have no audit log and are not counted."
)


def run(root: Path, table: Table, size: Size) -> None:
    bench_rendering(table, size)
    bench_aggregation(table, size)
    plane = BenchPlane(root / "mgmt")
    seen: set[int] = set()
    try:
        seen.update(bench_plane(plane, table, size).values())
        asyncio.run(bench_controller(plane, root, table, size, seen))
    finally:
        if (plane.state_dir / "apiserver" / "apiserver.json").exists():
            seen.update(pid for pid in plane.describe()["pids"].values() if pid)
        plane.down()
        left = [pid for pid in seen if processes.alive(pid)]
        for pid in left:
            processes.stop_pid(pid)
        if left:
            raise RuntimeError(f"processes left running after the bench (now stopped): {left}")


SMOKE_NOTE = "SMOKE RUN: the smallest size, to check that the bench works; its figures mean nothing."


def report(run: Callable[[Path, Table], None], meaning: str, smoke: bool) -> int:
    """Any bench's frame: `run` fills the table in a temporary directory; the table is printed
    whatever happened; exit status 1 (with the traceback) only if something broke."""
    print(versions(), flush=True)
    if smoke:
        print(SMOKE_NOTE, flush=True)
    table = Table()
    root = Path(tempfile.mkdtemp(prefix="drover-bench-"))
    started = time.monotonic()
    failed = None
    try:
        run(root, table)
    except Exception:  # noqa: BLE001 - a broken part ends the bench with its traceback
        failed = traceback.format_exc()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    print(table.render() if table.rows else "(no figures)")
    print(f"\n{SMOKE_NOTE if smoke else meaning}\nbench took {time.monotonic() - started:.0f} s")
    if failed:
        print(f"\nBENCH BROKEN:\n{failed}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true",
                        help="the same code at its smallest size (one cluster, short waits), as in `make test`")
    args = parser.parse_args(argv)
    size = SMOKE if args.smoke else FULL
    return report(lambda root, table: run(root, table, size), MEANING, args.smoke)


if __name__ == "__main__":
    sys.exit(main())
