"""Prometheus metrics of the controller, on a registry of its own (so tests and embedding
never collide with the process-wide default registry).

On localhost (the default) /metrics is open. Anywhere else it is served as controller-runtime's
secure metrics are: over TLS (a certificate made at start), and only to a bearer token the
management cluster authenticates (TokenReview) whose user may `get` the non-resource URL
/metrics (SubjectAccessReview; the shipped ClusterRole drover-metrics-reader grants it).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import ssl
import threading
import time
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

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


log = logging.getLogger("drover.metrics")


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Reviewer:
    """Whether a bearer token may read /metrics, asked of the management cluster (TokenReview,
    then SubjectAccessReview for `get` on /metrics). Answers are kept `ttl` seconds per token
    digest; the token itself is kept nowhere and never logged."""

    def __init__(self, kube, loop: asyncio.AbstractEventLoop, ttl: float = 10.0, timeout: float = 10.0):
        self.kube, self.loop, self.ttl, self.timeout = kube, loop, ttl, timeout
        self._answers: dict[str, tuple[float, bool]] = {}

    def allowed(self, token: str) -> bool:
        """From the server's threads; the reviews run on the controller's event loop."""
        key = hashlib.sha256(token.encode()).hexdigest()
        kept = self._answers.get(key)
        if kept and kept[0] > time.monotonic():
            return kept[1]
        try:
            answer = asyncio.run_coroutine_threadsafe(self.review(token), self.loop).result(self.timeout)
        except Exception as error:  # noqa: BLE001 - no answer is a refusal
            log.warning("metrics: could not review a token (%s)", type(error).__name__)
            return False
        self._answers[key] = (time.monotonic() + self.ttl, answer)
        return answer

    async def review(self, token: str) -> bool:
        review = await self.kube.create({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                         "metadata": {}, "spec": {"token": token}})
        status = review.get("status") or {}
        if not status.get("authenticated"):
            return False
        user = status.get("user") or {}
        access = await self.kube.create({
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "metadata": {},
            "spec": {"user": user.get("username"), "uid": user.get("uid"), "groups": user.get("groups") or [],
                     "extra": user.get("extra") or {},
                     "nonResourceAttributes": {"path": "/metrics", "verb": "get"}}})
        return bool((access.get("status") or {}).get("allowed"))


def _guarded(app, reviewer: Reviewer):
    def guarded(environ, start_response):
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")])
            return [b"a bearer token is required\n"]
        if not reviewer.allowed(token.strip()):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"this token may not read /metrics\n"]
        return app(environ, start_response)
    return guarded


def self_signed_context() -> ssl.SSLContext:
    """A server TLS context with a certificate made now, its key only in memory."""
    from mgmt import pki
    from mgmt.memfiles import memory_file

    ca = pki.new_ca("drover-metrics")
    pair = pki.issue(ca, "drover-controller-metrics", dns_names=("localhost",), server=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with memory_file(pair.cert_pem + ca.cert_pem + pair.key_pem) as path:
        context.load_cert_chain(path)
    return context


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def serve(port: int, host: str = "127.0.0.1", reviewer: Reviewer | None = None,
          tls: ssl.SSLContext | None = None):
    """Serve /metrics in a background thread; returns the server (`.shutdown()` stops it,
    `.server_port` is the port). With `reviewer`, only tokens it allows get an answer."""
    app = make_wsgi_app(REGISTRY)
    if reviewer is not None:
        app = _guarded(app, reviewer)
    server = make_server(host, port, app, _Server, handler_class=_Quiet)
    if tls is not None:
        # The handshake happens in each request's thread, so a silent client blocks no other.
        server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


def serve_for(port: int, host: str, kube, loop: asyncio.AbstractEventLoop):
    """`serve` as the controller runs it: open on localhost, else TLS and token reviews."""
    if is_loopback(host):
        return serve(port, host)
    return serve(port, host, Reviewer(kube, loop), self_signed_context())
