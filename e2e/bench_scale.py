"""`make bench-scale [N=1000]`: Drover at N simulated member clusters, side by side with CAPI's
ClusterResourceSet and a bare server-side-apply loop, then the same comparison on a few real
local clusters (`--real K`). One table, and the same figures as JSON (its path is printed).

In one run, on the same simulated members (virtual clusters of one `e2e.simulator` process, made
by the real local provider's `simulated` flavor and provisioned by the real CAPI manager):
the Fleet applied -> all N members Ready; then a 10-component stack added -> Ready on all N; a
probe sweep of the N members; the controller's requests to the management API in an idle
minute (audit log); its memory; a restart -> every member probed again (and what it wrote);
the controller is then stopped, the virtual clusters emptied, and the same manifests go through
ClusterResourceSet, then (emptied again) through a bare apply loop at its best concurrency.
Last, the Fleet and Fleet status sizes for 10,000 clusters, and the real-cluster comparison.

It never fails on a figure: a phase that does not finish in its share of the time records how far
it got, and the run goes on. It fails (exit 1) only when something is broken. Every process it
starts is stopped; all state lives in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devtools import processes
from e2e import bench_baselines as baselines
from e2e.bench import Table, mib, probes_done, report, rss, synthetic_members, top
from e2e.bench_audit import BenchPlane, Requests, breakdown, writes
from e2e.bench_profile import Recorder
from e2e.bench_stack import BenchStack, build
from e2e.fixtures.controller import ControllerProcess
from e2e.fixtures.local import LocalProvider
from mgmt.api.models import API_VERSION
from mgmt.controller.member_reconciler import WORKERS as PROBE_CONCURRENCY
from mgmt.health.aggregate import aggregate, member_phase
from mgmt.health.probes import probe_member
from mgmt.kube import Kube, KubeError, Unreachable
from mgmt.workload import WorkloadClients

SIM_NS, SIM_FLEET = "bench", "bench"
REAL_NS, REAL_FLEET = "bench-real", "real"
SIZE_NS = "bench-size"
K8S_VERSION = "v1.35.8"
BUDGET_SECONDS = 1800     # the whole run at N=1000 on this machine
REAL_SECONDS_EACH = 35    # what the real cross-check takes per cluster, about (10 clusters: ~5 min)
NODES = 1


@dataclass(frozen=True)
class Size:
    members: int
    real: int
    idle_seconds: int            # the idle window (figures are scaled to a minute)
    tune_sample: int             # clusters the bare loop's concurrency is tuned on
    concurrencies: tuple[int, ...]
    probe_interval: str = "30s"  # the Fleet's health.probeInterval (30s: the default)
    smoke: bool = False
    py_spy: str | None = None    # profile the controller in each phase with this py-spy

    def deadline(self, fixed: float, per_member: float, cap: float, members: int | None = None) -> float:
        """When a phase stops waiting (and records how far it got): `cap` keeps the whole run at
        N=1000 within 30 minutes on this machine."""
        members = self.members if members is None else members
        return time.monotonic() + min(fixed + per_member * members, cap)


@dataclass
class Results:
    """The figures, as printed and as JSON."""

    table: Table
    figures: dict = field(default_factory=dict)

    def add(self, section: str, what: str, value: str, key: str | None = None, raw=...) -> None:
        """A row; with `key`, also a JSON figure: `raw` (None when it was not reached), else `value`."""
        self.table.add(section, what, value)
        if key:
            self.figures[key] = value if raw is ... else raw


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the pieces of the run ----------------------------------------------------------------------

class SimulatorProcess:
    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> None:
        with open(self.log_path, "w") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "e2e.simulator", "--clusters", "0"],
                                         stdout=subprocess.PIPE, stderr=out, stdin=subprocess.DEVNULL, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        if not ready:
            raise RuntimeError(f"the simulator did not start: {self.log_path.read_text()[-2000:]}")
        self.url = json.loads(self.proc.stdout.readline())["url"]

    def stats(self) -> dict:
        import urllib.request
        with urllib.request.urlopen(f"{self.url}/admin/stats", timeout=30) as answer:
            return json.loads(answer.read())

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def fleet_object(name: str, namespace: str, clusters: int, flavor: str, components: list[dict],
                 prefix: str = "s", probe_interval: str = "30s") -> dict:
    return {"apiVersion": API_VERSION, "kind": "Fleet", "metadata": {"name": name, "namespace": namespace},
            "spec": {"health": {"probeInterval": probe_interval},
                     "stack": {"components": components},
                     "clusters": [{"name": f"{prefix}{i:05d}", "provider": "local", "flavor": flavor,
                                   "kubernetesVersion": K8S_VERSION,
                                   "workers": [{"name": "md-0", "replicas": NODES}]}
                                  for i in range(clusters)]}}


def cluster_names(fleet: dict) -> list[str]:
    return [c["name"] for c in fleet["spec"]["clusters"]]


UNWELL_SEEN: dict[str, str] = {}  # reason -> the first message seen, for the table
MGMT_TIMEOUT = 60.0
SLOW_POLLS: list[str] = []  # the bench's own reads of the management API that timed out


class PatientKube(Kube):
    """The bench's client of the management API: an answer that says "busy" (no answer in time,
    429, 500/503/504) is counted and the request sent again, a few times: a management API that
    the run under test overloads is a figure, not a broken bench."""

    async def request(self, method: str, path: str, *args, **kwargs):
        for attempt in range(6):
            try:
                return await super().request(method, path, *args, **kwargs)
            except KubeError as error:
                busy = isinstance(error, Unreachable) or error.status in (429, 500, 503, 504)
                if not busy or attempt == 5:
                    raise
                SLOW_POLLS.append(f"{method} {path.split('?')[0].rsplit('/', 2)[-2]}")
                log(f"{method} {path}: busy ({error}); again in 5 s")
                await asyncio.sleep(5)


async def patiently(read, what: str, default):
    """A read of the management API whose timeout means "busy", not broken: logged, counted,
    and `default` stands in until the next poll."""
    try:
        return await read
    except Unreachable as error:
        SLOW_POLLS.append(what)
        log(f"{what}: no answer ({error}); polling on")
        return default


async def fleet_counts(kube: Kube, namespace: str, name: str, generation: int = 0) -> dict:
    """The Fleet's status counts, once its status speaks of `generation` (else none)."""
    fleet = await kube.get(API_VERSION, "Fleet", name, namespace) or {}
    status = fleet.get("status") or {}
    observed = min((c.get("observedGeneration") or 0 for c in status.get("conditions") or []), default=0)
    if observed < generation:
        return {}
    for unwell in status.get("unwell") or []:
        if unwell.get("reason") not in UNWELL_SEEN:
            UNWELL_SEEN[unwell.get("reason")] = f"{unwell.get('cluster')}: {unwell.get('message')}"
            log(f"Fleet {namespace}/{name}: {unwell.get('reason')}: {UNWELL_SEEN[unwell.get('reason')]}")
    return status.get("counts") or {}


async def wait_counts(kube: Kube, namespace: str, name: str, key: str, target: int, deadline: float,
                      what: str, series: list | None = None, generation: int = 0) -> tuple[float | None, int, float]:
    """Until the Fleet's `counts[key]` reaches `target` (in a status of at least `generation`):
    (seconds or None, reached, elapsed)."""
    started, last_log, reached = time.monotonic(), 0.0, 0
    while True:
        elapsed = time.monotonic() - started
        counts = await patiently(fleet_counts(kube, namespace, name, generation), f"GET Fleet {name}", None)
        reached = counts.get(key, 0) if counts is not None else reached
        if series is not None:
            series.append((round(elapsed, 1), reached))
        if reached >= target:
            return elapsed, reached, elapsed
        if time.monotonic() > deadline:
            return None, reached, elapsed
        if elapsed - last_log >= 15:
            log(f"{what}: {reached}/{target} after {elapsed:.0f} s")
            last_log = elapsed
        await asyncio.sleep(1 if target < 50 else 2)


def reached_text(seconds: float | None, reached: int, target: int, elapsed: float) -> str:
    if seconds is not None:
        return f"{seconds:.1f} s"
    return f"NOT REACHED: {reached}/{target} after {elapsed:.0f} s"


def rate(count: float, seconds: float | None) -> str:
    return f"{count / seconds:,.1f}/s" if seconds else "n/a"


# -- simulated members --------------------------------------------------------------------------

class ScaleRun:
    def __init__(self, root: Path, results: Results, size: Size):
        self.root, self.results, self.size = root, results, size
        self.plane = BenchPlane(root / "mgmt")
        self.simulator = SimulatorProcess(root / "simulator.log")
        self.provider: LocalProvider | None = None
        self.seen: set[int] = set()
        self.stack: BenchStack | None = None

    def add(self, *args, **kwargs) -> None:
        self.results.add(*args, **kwargs)

    def record(self, controller: ControllerProcess, phase: str) -> Recorder | None:
        if not self.size.py_spy:
            return None
        return Recorder(self.size.py_spy, controller.proc.pid, profile_path(self.size, phase))

    def profiled(self, phase: str, recorder: Recorder | None) -> None:
        """Where the controller's event loop spent the phase (py-spy samples of its main thread)."""
        profile = recorder.stop() if recorder else None
        if profile is None or not profile.samples:
            return
        key = f"profile_{phase}"
        self.add("profile", f"{phase}: event loop busy (not waiting for I/O)", f"{profile.busy_share():.0%} of "
                 f"{profile.samples} samples ({recorder.output})", f"{key}_busy", round(profile.busy_share(), 3))
        self.add("profile", f"{phase}: top own time", profile.text(profile.own, 5), f"{key}_own",
                 profile.top(profile.own, 25))
        self.add("profile", f"{phase}: top Drover functions on the stack", profile.text(profile.inclusive, 6, "mgmt/"),
                 f"{key}_drover", profile.top(profile.inclusive, 25, "mgmt/"))

    def controller(self, namespace: str, name: str) -> ControllerProcess:
        env = {"AWS_EC2_METADATA_DISABLED": "true", "DROVER_HELM_CHART_DIRS": str(self.stack.chart_dir)}
        return ControllerProcess(self.plane.controller_kubeconfig, self.root / f"{name}.log", env,
                                 namespaces=(namespace,))

    def start(self) -> None:
        started = time.monotonic()
        self.plane.up()
        self.seen.update(p for p in self.plane.describe()["pids"].values() if p)
        self.simulator.start()
        self.seen.add(self.simulator.proc.pid)
        self.provider = LocalProvider(self.plane.kubeconfig, self.root / "local" / "state", self.simulator.url)
        self.provider.state_dir.mkdir(parents=True)
        self.provider.start()
        self.seen.add(self.provider.proc.pid)
        self.stack = build(self.root / "stack", SIM_NS)
        self.add("setup", "management plane, simulator, local provider up", f"{time.monotonic() - started:.0f} s")
        self.add("setup", "stack", f"{len(self.stack.components)} components, {len(self.stack.objects())} objects "
                 f"(CRD {self.stack.crd_bytes() / 1024:.0f} KiB as JSON, chart {self.stack.chart_dir.name}/web)",
                 "stack_objects", len(self.stack.objects()))

    def stop(self) -> None:
        if self.provider:
            self.provider.record_pids()
            self.seen.update(self.provider.seen)
            self.provider.stop_everything()
        self.simulator.stop()
        if (self.plane.state_dir / "apiserver" / "apiserver.json").exists():
            self.seen.update(p for p in self.plane.describe()["pids"].values() if p)
        self.plane.down()
        left = [pid for pid in self.seen if processes.alive(pid)]
        for pid in left:
            processes.stop_pid(pid)
        if left:
            raise RuntimeError(f"processes left running after the bench (now stopped): {left}")

    async def simulated(self) -> None:
        n = self.size.members
        kube = await PatientKube.from_kubeconfig(str(self.plane.kubeconfig), timeout=MGMT_TIMEOUT)
        requests = Requests(self.plane.apiserver().audit_log)
        controller = self.controller(SIM_NS, "controller")
        try:
            await kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SIM_NS}})
            await kube.apply(self.stack.crd_configmap)
            controller.start()
            self.seen.add(controller.proc.pid)
            await asyncio.sleep(3)
            rss_empty = rss(controller.proc.pid)
            self.add("memory", "controller RSS, no Fleet", mib(rss_empty), "rss_kib_0", rss_empty)
            fleet = fleet_object(SIM_FLEET, SIM_NS, n, "simulated", [], probe_interval=self.size.probe_interval)
            recorder = self.record(controller, "ready")
            await self.ready_phase(kube, requests, fleet)
            self.profiled("ready", recorder)
            rss_ready = rss(controller.proc.pid)
            self.add("memory", f"controller RSS, {n} members Ready", mib(rss_ready), "rss_kib_ready", rss_ready)
            recorder = self.record(controller, "stack")
            await self.stack_phase(kube, requests, fleet)
            self.profiled("stack", recorder)
            rss_stack = rss(controller.proc.pid)
            self.add("memory", f"controller RSS, {n} members with the stack", mib(rss_stack), "rss_kib_stack",
                     rss_stack)
            slope = (rss_stack - rss_empty) / n
            self.add("memory", "controller RSS per member (N and no Fleet)", f"{slope:.0f} KiB",
                     "rss_kib_per_member", round(slope, 1))
            recorder = self.record(controller, "idle")
            await self.idle_phase(controller, requests)
            self.profiled("idle", recorder)
            await self.sweep_phase(kube, fleet)
            self.memory_rows()
            ready = (await fleet_counts(kube, SIM_NS, SIM_FLEET)).get("ready", 0)
            await self.restart_phase(controller, kube, requests, ready)
            controller.stop()
            await self.baselines(kube, fleet)
        finally:
            controller.stop()
            await kube.close()

    async def ready_phase(self, kube: Kube, requests: Requests, fleet: dict) -> None:
        n = self.size.members
        series: list = []
        mark = requests.mark()
        await kube.apply(fleet)
        log(f"Fleet of {n} simulated clusters applied")
        seconds, reached, elapsed = await wait_counts(kube, SIM_NS, SIM_FLEET, "ready", n,
                                                      self.size.deadline(180, 0.6, 540), "members Ready", series)
        self.results.figures["ready_series"] = series
        self.add("simulated", "Fleet applied -> all members Ready", reached_text(seconds, reached, n, elapsed),
                 "ready_seconds", seconds)
        self.add("simulated", "members Ready", f"{reached}/{n}", "ready_members", reached)
        # What each member costs the management cluster: its CAPI objects and its FleetMember.
        objects = n * 4
        self.add("simulated", "management objects (Cluster, LocalCluster, LocalControlPlane, FleetMember)",
                 f"{objects} ({rate(objects, seconds)})", "objects_per_second",
                 round(objects / seconds, 2) if seconds else None)
        during = requests.since(mark)
        self.add("simulated", "controller requests to mgmt meanwhile",
                 f"{len(during)} ({len(writes(during))} writes): {top(breakdown(during), 5)}", "ready_requests",
                 len(during))

    async def stack_phase(self, kube: Kube, requests: Requests, fleet: dict) -> None:
        ready = (await fleet_counts(kube, SIM_NS, SIM_FLEET)).get("ready", 0)
        mark = requests.mark()
        fleet["spec"]["stack"]["components"] = self.stack.fleet_components
        generation = (await kube.apply(fleet))["metadata"]["generation"]
        log(f"stack of {len(self.stack.components)} components added to the Fleet")
        series: list = []
        seconds, reached, elapsed = await wait_counts(kube, SIM_NS, SIM_FLEET, "stackReady", ready,
                                                      self.size.deadline(120, 0.6, 300), "stack Ready", series,
                                                      generation)
        self.results.figures["stack_series"] = series
        if not ready:  # no member to install onto yet: nothing was measured
            seconds = None
        self.add("comparison", f"Drover: stack added -> Ready on all {ready} Ready members",
                 reached_text(seconds, reached, ready, elapsed), "drover_stack_seconds", seconds)
        objects = ready * len(self.stack.objects())
        self.add("comparison", "  workload objects applied", f"{objects} ({rate(objects, seconds)})")
        during = requests.since(mark)
        self.add("comparison", "  controller requests to mgmt meanwhile",
                 f"{len(during)} ({len(writes(during))} writes)")

    async def idle_phase(self, controller: ControllerProcess, requests: Requests) -> None:
        n, seconds = self.size.members, self.size.idle_seconds
        await asyncio.sleep(5)
        mark, probes = requests.mark(), probes_done(controller)
        log(f"idle for {seconds} s")
        await asyncio.sleep(seconds)
        idle = requests.since(mark)
        scale = 60 / seconds
        sweeps = (probes_done(controller) - probes) / n
        idle_writes = writes(idle)
        self.add("idle", f"controller requests to mgmt per idle minute (measured over {seconds} s)",
                 f"{len(idle) * scale:.0f}", "idle_requests_per_minute", round(len(idle) * scale))
        self.add("idle", "  by verb and resource", top(breakdown(idle), 6), "idle_requests_breakdown",
                 dict(breakdown(idle)))
        self.add("idle", "controller writes to mgmt per idle minute (should be 0)",
                 f"{len(idle_writes) * scale:.0f}" + (f": {top(breakdown(idle_writes))}" if idle_writes else ""),
                 "idle_writes_per_minute", round(len(idle_writes) * scale))
        self.add("idle", "controller probe sweeps of all members per minute (its metrics)", f"{sweeps * scale:.2f}",
                 "idle_sweeps_per_minute", round(sweeps * scale, 2))

    async def sweep_phase(self, kube: Kube, fleet: dict) -> None:
        """One full sweep with the controller's probe code and concurrency, in this process."""
        clients = WorkloadClients(kube)
        gate = asyncio.Semaphore(PROBE_CONCURRENCY)
        phases: dict[str, int] = {}

        async def one(cluster: str) -> None:
            async with gate:
                result = await probe_member(kube, clients, {"metadata": {"namespace": SIM_NS},
                                                            "spec": {"cluster": cluster}})
            phase = member_phase(result, False)
            phases[phase] = phases.get(phase, 0) + 1

        try:
            await asyncio.gather(*(one(c) for c in cluster_names(fleet)[:8]))  # clients made, not timed
            phases.clear()
            started = time.monotonic()
            await asyncio.gather(*(one(c) for c in cluster_names(fleet)))
            seconds = time.monotonic() - started
        finally:
            await clients.close()
        self.add("health", f"full probe sweep of {len(cluster_names(fleet))} members "
                 f"(Drover's probe, {PROBE_CONCURRENCY} at once)", f"{seconds:.1f} s "
                 f"({', '.join(f'{k} {v}' for k, v in sorted(phases.items()))})", "sweep_seconds", round(seconds, 2))

    def memory_rows(self) -> None:
        pids = {name: pid for name, pid in self.plane.describe()["pids"].items() if pid}
        for name in ("kube-apiserver", "etcd", "capi-manager"):
            self.add("memory", f"RSS {name}", mib(rss(pids.get(name))))
        self.add("memory", "RSS local provider", mib(rss(self.provider.proc.pid)))
        stats = self.simulator.stats()
        self.add("memory", f"RSS simulator ({stats['clusters']} virtual clusters, {stats['objects']} objects)",
                 mib(stats["rssBytes"] // 1024), "simulator_rss_kib", stats["rssBytes"] // 1024)

    async def restart_phase(self, controller: ControllerProcess, kube: Kube, requests: Requests, n: int) -> None:
        mark, started = requests.mark(), time.monotonic()
        controller.restart()
        self.seen.add(controller.proc.pid)
        recorder = self.record(controller, "restart")
        deadline = self.size.deadline(60, 0.3, 150)
        probed = 0.0
        while time.monotonic() < deadline:
            probed = probes_done(controller)
            if probed >= n:
                break
            await asyncio.sleep(1)
        seconds = time.monotonic() - started if probed >= n else None
        await asyncio.sleep(10)  # the status writes that follow the first sweep
        self.profiled("restart", recorder)
        after = requests.since(mark)
        made = writes(after)
        self.add("restart", f"controller restart -> every Ready member ({n}) probed again",
                 reached_text(seconds, int(probed), n, time.monotonic() - started), "restart_seconds", seconds)
        self.add("restart", "  writes to mgmt until 10 s after (should be 0)",
                 str(len(made)) + (f": {top(breakdown(made))}" if made else ""), "restart_writes", len(made))
        self.add("restart", "  requests to mgmt", f"{len(after)}: {top(breakdown(after), 5)}")

    async def baselines(self, kube: Kube, fleet: dict) -> None:
        names = await provisioned(kube, SIM_NS, cluster_names(fleet))
        self.add("comparison", "clusters the contenders install onto (CAPI Provisioned)", f"{len(names)}",
                 "baseline_clusters", len(names))
        virtual = [f"{SIM_NS}.{name}" for name in names]
        drover = self.results.figures.get("drover_stack_seconds")
        await baselines.wipe(self.simulator.url, virtual, NODES)
        log("virtual clusters emptied; ClusterResourceSet next")
        crs = await baselines.run_crs(kube, self.stack, SIM_NS, SIM_FLEET, len(names), self.size.deadline(120, 0.6, 240),
                                      self._progress("crs bindings applied", len(names)))
        self.add("comparison", f"ClusterResourceSet: created -> every binding applied ({len(names)} clusters)",
                 reached_text(crs["seconds"], crs["clusters"], len(names), crs.get("after", 0)), "crs_seconds",
                 crs["seconds"])
        await baselines.remove_crs(kube, self.stack, SIM_NS)
        configs = await baselines.member_kubeconfigs(kube, SIM_NS, names)
        best = await self.tune(configs, virtual)
        await baselines.wipe(self.simulator.url, virtual, NODES)
        bare = await baselines.bare_apply(configs, self.stack.objects(), best)
        if bare["failures"]:
            raise RuntimeError(f"bare apply failed on {len(bare['failures'])} clusters: "
                               f"{list(bare['failures'].items())[:3]}")
        self.add("comparison", f"bare SSA loop (kubernetes_asyncio, {best} clusters at once)",
                 f"{bare['seconds']:.1f} s", "bare_seconds", round(bare["seconds"], 2))
        self.ratios("", drover, crs["seconds"], bare["seconds"])

    async def tune(self, configs: dict[str, dict], virtual: list[str]) -> int:
        sample = dict(list(configs.items())[:self.size.tune_sample])
        timings = {}
        for concurrency in self.size.concurrencies:
            await baselines.wipe(self.simulator.url, virtual[:len(sample)], NODES)
            result = await baselines.bare_apply(sample, self.stack.objects(), concurrency)
            timings[concurrency] = result["seconds"]
        best = min(timings, key=timings.get)
        self.add("comparison", f"  bare loop tuned on {len(sample)} clusters (concurrency: seconds)",
                 ", ".join(f"{c}: {s:.2f}" for c, s in timings.items()), "bare_tuning", timings)
        return best

    def ratios(self, label: str, drover: float | None, crs: float | None, bare: float | None) -> None:
        def ratio(a, b):
            return f"{a / b:.2f}" if a and b else "n/a (a side did not finish)"
        self.add("comparison", f"{label}ratio Drover / ClusterResourceSet", ratio(drover, crs),
                 f"{label.strip()}ratio_drover_crs", round(drover / crs, 3) if drover and crs else None)
        self.add("comparison", f"{label}ratio Drover / bare loop", ratio(drover, bare),
                 f"{label.strip()}ratio_drover_bare", round(drover / bare, 3) if drover and bare else None)

    def _progress(self, what: str, target: int) -> Callable[[str, int], None]:
        last = [0.0]

        def progress(_: str, done: int) -> None:
            if time.monotonic() - last[0] >= 15:
                log(f"{what}: {done}/{target}")
                last[0] = time.monotonic()
        return progress

    # -- sizes ----------------------------------------------------------------------------------

    async def fleet_sizes(self) -> None:
        kube = await PatientKube.from_kubeconfig(str(self.plane.kubeconfig), timeout=MGMT_TIMEOUT)
        try:
            await kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SIZE_NS}})
            for clusters in (10_000, 5_000):
                fleet = fleet_object(f"size-{clusters}", SIZE_NS, clusters, "simulated", self.stack.fleet_components)
                size = len(json.dumps(fleet, separators=(",", ":")))
                self.add("fleet size", f"Fleet object, {clusters:,} clusters + the stack", f"{size / 1024:,.0f} KiB",
                         f"fleet_bytes_{clusters}", size)
                try:
                    await kube.create(fleet)
                    outcome = "created"
                    await kube.delete(API_VERSION, "Fleet", fleet["metadata"]["name"], SIZE_NS)
                except KubeError as error:
                    outcome = f"refused: HTTP {error.status} {str(error.message or error)[:300]}"
                self.add("fleet size", "  creating it in the apiserver", outcome, f"fleet_create_{clusters}", outcome)
            fleet = {"apiVersion": API_VERSION, "kind": "Fleet", "metadata": {"name": "size-set", "namespace": SIZE_NS},
                     "spec": {"stack": {"components": self.stack.fleet_components},
                              "clusterSets": [{"name": "s", "count": 10_000, "template": {
                                  "provider": "local", "flavor": "simulated", "kubernetesVersion": K8S_VERSION,
                                  "workers": [{"name": "md-0", "replicas": NODES}]}}]}}
            size = len(json.dumps(fleet, separators=(",", ":")))
            self.add("fleet size", "Fleet object, a clusterSet of 10,000 + the stack", f"{size / 1024:,.1f} KiB",
                     "fleet_bytes_set_10000", size)
            try:
                await kube.create(fleet)
                outcome = "created"
                await kube.delete(API_VERSION, "Fleet", "size-set", SIZE_NS)
            except KubeError as error:
                outcome = f"refused: HTTP {error.status} {str(error.message or error)[:300]}"
            self.add("fleet size", "  creating it in the apiserver", outcome, "fleet_create_set_10000", outcome)
            synthetic_fleet, members = synthetic_members(10_000)
            status = aggregate(synthetic_fleet, members, now="2026-01-02T00:00:00Z")
            size = len(json.dumps({"status": status}, separators=(",", ":")))
            self.add("fleet size", "Fleet status, 10,000 members (90% Ready, the rest unwell)",
                     f"{size / 1024:,.1f} KiB", "fleet_status_bytes_10000", size)
        finally:
            await kube.close()

    # -- real local clusters ----------------------------------------------------------------------

    async def real(self) -> None:
        k = self.size.real
        kube = await PatientKube.from_kubeconfig(str(self.plane.kubeconfig), timeout=MGMT_TIMEOUT)
        controller = self.controller(REAL_NS, "controller-real")
        label = f"real {k}: "
        try:
            await kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": REAL_NS}})
            await kube.apply({**self.stack.crd_configmap,
                              "metadata": {**self.stack.crd_configmap["metadata"], "namespace": REAL_NS}})
            controller.start()
            self.seen.add(controller.proc.pid)
            fleet = fleet_object(REAL_FLEET, REAL_NS, k, "default", [], prefix="r", probe_interval=self.size.probe_interval)
            await kube.apply(fleet)
            seconds, reached, elapsed = await wait_counts(kube, REAL_NS, REAL_FLEET, "ready", k,
                                                          self.size.deadline(120, 30, 300, k), "real clusters Ready")
            self.provider.record_pids()
            self.add("real", f"Fleet of {k} real local clusters (apiserver, kcm, scheduler, kwok) -> Ready",
                     reached_text(seconds, reached, k, elapsed), "real_ready_seconds", seconds)
            if seconds is None:
                raise RuntimeError(f"real local clusters not Ready: {reached}/{k} after {elapsed:.0f} s\n"
                                   f"{self.provider.log_tail(30)}")
            fleet["spec"]["stack"]["components"] = self.stack.fleet_components
            generation = (await kube.apply(fleet))["metadata"]["generation"]
            seconds, reached, elapsed = await wait_counts(kube, REAL_NS, REAL_FLEET, "stackReady", k,
                                                          self.size.deadline(60, 20, 240, k), "real stack Ready",
                                                          generation=generation)
            drover = seconds
            self.add("real", f"Drover: stack added -> Ready on all {k}", reached_text(seconds, reached, k, elapsed),
                     "real_drover_stack_seconds", seconds)
            controller.stop()
            configs = await baselines.member_kubeconfigs(kube, REAL_NS, cluster_names(fleet))
            await remove_objects(configs, self.stack.objects())
            crs = await baselines.run_crs(kube, self.stack, REAL_NS, REAL_FLEET, k, self.size.deadline(60, 20, 240, k),
                                          self._progress("real crs bindings applied", k), name="real")
            self.add("real", f"ClusterResourceSet: created -> every binding applied ({k} clusters)",
                     reached_text(crs["seconds"], crs["clusters"], k, crs.get("after", 0)), "real_crs_seconds",
                     crs["seconds"])
            await remove_objects(configs, self.stack.objects())
            bare = await baselines.bare_apply(configs, self.stack.objects(), k)
            if bare["failures"]:
                raise RuntimeError(f"bare apply failed on real clusters: {list(bare['failures'].items())[:3]}")
            self.add("real", f"bare SSA loop ({k} clusters at once)", f"{bare['seconds']:.1f} s", "real_bare_seconds",
                     round(bare["seconds"], 2))
            self.ratios(label, drover, crs["seconds"], bare["seconds"])
            self.add("real", f"RSS of the {k} local clusters' processes",
                     mib(sum(rss(pid) for pid in self.provider.record_pids().values())))
        finally:
            controller.stop()
            await kube.close()


async def provisioned(kube: Kube, namespace: str, names: list[str]) -> list[str]:
    """The clusters of `names` that Cluster API reports Provisioned (their kubeconfig is out)."""
    clusters = await kube.list("cluster.x-k8s.io/v1beta2", "Cluster", namespace)
    done = {c["metadata"]["name"] for c in clusters if (c.get("status") or {}).get("phase") == "Provisioned"}
    return [name for name in names if name in done]


async def remove_objects(kubeconfigs: dict[str, dict], objects: list[dict], timeout: float = 180) -> None:
    """Delete the stack's objects from real clusters and wait until they are gone (namespaces
    included), so the next contender installs onto clean clusters."""
    async def one(config: dict) -> None:
        kube = await Kube.from_kubeconfig_dict(config)
        try:
            for obj in reversed(objects):
                meta = obj["metadata"]
                await kube.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
            deadline = time.monotonic() + timeout
            for obj in objects:
                meta = obj["metadata"]
                while await kube.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{obj['kind']} {meta['name']} still there after {timeout:.0f} s")
                    await asyncio.sleep(1)
        finally:
            await kube.close()

    await asyncio.gather(*(one(c) for c in kubeconfigs.values()))


# -- main ---------------------------------------------------------------------------------------

def output_path(members: int, smoke: bool) -> Path:
    return Path(tempfile.gettempdir()) / f"drover-bench-scale-{'smoke-' if smoke else ''}N{members}.json"


def profile_path(size: Size, phase: str) -> Path:
    return output_path(size.members, size.smoke).with_suffix(f".{phase}.py-spy.txt")


def slope_between_runs(results: Results, size: Size) -> None:
    """The controller's RSS per member between this run and the last run of another size."""
    mine = results.figures.get("rss_kib_stack")
    for other in sorted(Path(tempfile.gettempdir()).glob("drover-bench-scale-N*.json")):
        saved = json.loads(other.read_text())
        theirs, members = saved.get("rss_kib_stack"), saved.get("members")
        if mine and theirs and members and members != size.members and not size.smoke:
            slope = (mine - theirs) / (size.members - members)
            results.add("memory", f"controller RSS per member between N={members} ({other.name}) and N={size.members}",
                        f"{slope:.0f} KiB", f"rss_kib_per_member_vs_{members}", round(slope, 1))


def run(root: Path, table: Table, size: Size) -> None:
    results = Results(table, {"members": size.members, "real": size.real, "started": time.strftime("%FT%TZ")})
    scale = ScaleRun(root, results, size)
    path = output_path(size.members, size.smoke)
    try:
        started = time.monotonic()
        scale.start()
        asyncio.run(scale.simulated())
        asyncio.run(scale.fleet_sizes())
        spent = time.monotonic() - started
        if size.real and spent + REAL_SECONDS_EACH * size.real > BUDGET_SECONDS:
            results.add("real", f"cross-check on {size.real} real local clusters",
                        f"SKIPPED: {spent / 60:.0f} of the {BUDGET_SECONDS // 60} minutes spent; run it alone with "
                        f"--members 1 --real {size.real}", "real_skipped", True)
        elif size.real:
            asyncio.run(scale.real())
        slope_between_runs(results, size)
        load = os.getloadavg()
        results.add("setup", "host load average at the end (1, 5, 15 min; 2 cores, shared)",
                    ", ".join(f"{x:.1f}" for x in load), "load_average_end", load)
        if SLOW_POLLS:
            results.add("health", f"the bench's own requests to the management API answered 'busy' or not in {MGMT_TIMEOUT:.0f} s",
                        f"{len(SLOW_POLLS)} ({', '.join(sorted(set(SLOW_POLLS)))})", "mgmt_read_timeouts",
                        len(SLOW_POLLS))
        for reason, example in UNWELL_SEEN.items():
            results.add("health", f"members seen unwell at some point: {reason} (first)", example)
    finally:
        try:
            scale.stop()
        finally:
            path.write_text(json.dumps(results.figures, indent=1, default=str))
            print(f"figures as JSON: {path}", flush=True)


MEANING = (
    "What these numbers mean: one run on this machine (2 cores, shared with the simulator, the management plane "
    "and CAPI), not a pass/fail gate.\n'Ready' is the Fleet's own count (FleetMember phase Ready: API answers, "
    "Nodes Ready, CAPI Cluster provisioned). Drover's stack time ends when the Fleet counts the stack Ready "
    "(applied and healthy) on every member; ClusterResourceSet's when every binding says applied (it checks no "
    "health); the bare loop's when its last apply answered. 'requests to mgmt' are the controller's (audit log)."
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.bench_scale", description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--members", type=int, default=1000, help="simulated member clusters (default 1000)")
    parser.add_argument("--real", type=int, default=10, metavar="K",
                        help="real local clusters for the cross-check (default 10; 0 skips it)")
    parser.add_argument("--idle-seconds", type=int, default=60, help="the idle window (default 60)")
    parser.add_argument("--py-spy", metavar="PATH", default=os.environ.get("DROVER_PY_SPY"),
                        help="profile the controller in each phase with this py-spy binary ($DROVER_PY_SPY; "
                             "`pip install py-spy`); the samples are kept beside the JSON")
    parser.add_argument("--smoke", action="store_true",
                        help="the smallest run that passes every row (3 simulated, 1 real member), as in `make test`")
    args = parser.parse_args(argv)
    if args.smoke:
        size = Size(members=3, real=1, idle_seconds=10, tune_sample=2, concurrencies=(1, 2), probe_interval="5s",
                    smoke=True)
    else:
        if args.members < 1 or args.real < 0:
            parser.error("--members must be at least 1 and --real at least 0")
        size = Size(members=args.members, real=args.real, idle_seconds=args.idle_seconds,
                    tune_sample=min(args.members, 50), concurrencies=(8, 32, 128), py_spy=args.py_spy)
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    return report(lambda root, table: run(root, table, size), MEANING, args.smoke)


if __name__ == "__main__":
    sys.exit(main())
