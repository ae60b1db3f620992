"""Pure logic of the local provider: names, Node manifests, etcd ranges, kopf credentials."""

from __future__ import annotations

import asyncio
import base64
import logging

import kopf
import pytest

from providers.local import operator
from providers.local.runtime import ClusterProcesses, _prefix_range


def test_provider_id_and_node_manifest():
    pid = operator.provider_id("ns", "alpha", "alpha-md-0-x")
    assert pid == "local://ns/alpha/alpha-md-0-x"
    node = operator.node_manifest("alpha-md-0-x", pid, {"cpu": "2", "memory": "4Gi"})
    assert node["spec"] == {"providerID": pid}
    assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    assert node["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "local"
    assert node["status"]["capacity"] == {"cpu": "2", "memory": "4Gi", "pods": "110"}
    assert node["status"]["allocatable"] == node["status"]["capacity"]
    assert "taints" not in node["spec"]


def test_etcd_range_covers_exactly_one_cluster():
    decoded = {k: base64.b64decode(v).decode() for k, v in _prefix_range("/clusters/ns/a").items()}
    assert decoded == {"key": "/clusters/ns/a/", "range_end": "/clusters/ns/a0"}
    # "/clusters/ns/ab/..." sorts outside [key, range_end): a sibling cluster keeps its data.
    assert not decoded["key"] <= "/clusters/ns/ab/pods" < decoded["range_end"]
    assert decoded["key"] <= "/clusters/ns/a/pods/default/x" < decoded["range_end"]


def test_cluster_processes_layout(tmp_path):
    procs = ClusterProcesses(tmp_path, "ns", "alpha")
    assert procs.state_dir == tmp_path / "clusters" / "ns" / "alpha"
    assert procs.etcd_prefix == "/clusters/ns/alpha"
    assert not procs.exists()
    assert procs.ensure(create=False) == []  # the liveness timer never creates a cluster
    assert not procs.state_dir.exists()


def test_connection_info_from_kubeconfig():
    config = {
        "current-context": "admin@m",
        "contexts": [{"name": "other", "context": {"cluster": "x", "user": "y"}},
                     {"name": "admin@m", "context": {"cluster": "m", "user": "admin@m", "namespace": "ns"}}],
        "clusters": [{"name": "m", "cluster": {"server": "https://127.0.0.1:6443",
                                               "certificate-authority-data": "Q0E="}}],
        "users": [{"name": "admin@m", "user": {"client-certificate-data": "Q0VSVA==",
                                               "client-key-data": "S0VZ"}}],
    }
    info = operator.connection_info(config)
    assert info.server == "https://127.0.0.1:6443"
    assert (info.ca_data, info.certificate_data, info.private_key_data) == ("Q0E=", "Q0VSVA==", "S0VZ")
    assert info.default_namespace == "ns"


def test_owner_is_awaited():
    body = kopf.Body({"metadata": {"name": "lc", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "no"}]}})
    with pytest.raises(kopf.TemporaryError):
        operator.owner_name(body, "Cluster")
    body = kopf.Body({"metadata": {"name": "lc", "labels": {"cluster.x-k8s.io/cluster-name": "c"},
                                   "ownerReferences": [{"apiVersion": "cluster.x-k8s.io/v1beta2",
                                                        "kind": "Cluster", "name": "c1"}]}})
    assert operator.owner_name(body, "Cluster") == "c1"
    assert operator.cluster_of(kopf.Body({"metadata": {"labels": {"cluster.x-k8s.io/cluster-name": "c"}}})) == "c"


def test_condition_transition_time_is_kept_while_status_holds():
    old = [{"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"}]
    new = operator.same_conditions(old, [operator.condition("Ready", "Provisioned", 1)])
    assert new[0]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    assert new[0]["reason"] == "Provisioned"


def test_log_filter_drops_chatter_and_softens_waits():
    readable = operator._Readable()

    def record(level, msg):
        return logging.LogRecord("kopf.objects", level, __file__, 1, msg, (), None)

    assert not readable.filter(record(logging.INFO, "Handler 'keep_alive' succeeded."))
    wait = record(logging.ERROR, "Handler 'reconcile_machine' failed temporarily: machine m: waiting for bootstrap data")
    assert readable.filter(wait)
    assert (wait.levelname, wait.getMessage()) == ("INFO", "machine m: waiting for bootstrap data")
    failure = record(logging.ERROR, "Handler 'x' failed temporarily: API server of c unreachable")
    assert readable.filter(failure) and failure.levelname == "ERROR"


def test_waits_back_off_exponentially_up_to_a_cap():
    delays = [operator.retry_delay(retry) for retry in range(12)]
    assert operator.WAIT_FIRST * 0.8 <= delays[0] <= operator.WAIT_FIRST
    assert all(0.8 * min(operator.WAIT_MAX, operator.WAIT_FIRST * 2 ** r) <= d <= operator.WAIT_MAX
               for r, d in enumerate(delays))
    assert delays[1] > delays[0] and delays[-1] >= 0.8 * operator.WAIT_MAX


def test_a_waiting_handler_is_retried_after_the_delay_of_its_retry():
    @operator.backing_off
    async def handler(retry, **_):
        raise kopf.TemporaryError("cluster c: waiting for its LocalCluster", delay=1)

    for retry in (0, 5):
        with pytest.raises(kopf.TemporaryError) as raised:
            asyncio.run(handler(retry=retry, body=None))
        assert str(raised.value) == "cluster c: waiting for its LocalCluster"
        assert 0.8 * min(operator.WAIT_MAX, operator.WAIT_FIRST * 2 ** retry) <= raised.value.delay
        assert raised.value.delay <= operator.WAIT_MAX


class Patches:
    def __init__(self):
        self.patches = []

    async def patch(self, api_version, kind, name, namespace, patch, subresource=None):
        self.patches.append((kind, name, patch, subresource))


def test_a_status_already_written_is_not_written_again():
    kube = Patches()
    status = {"initialization": {"provisioned": True},
              "conditions": [operator.condition("Ready", "Provisioned", 1)]}
    body = kopf.Body({"metadata": {"name": "lc", "namespace": "ns"}, "status": {}})
    asyncio.run(operator.set_status(kube, "v", "LocalCluster", body, status))
    assert len(kube.patches) == 1
    written = kube.patches[0][2]["status"]
    body = kopf.Body({"metadata": {"name": "lc", "namespace": "ns"}, "status": written})
    later = {**status, "conditions": [operator.condition("Ready", "Provisioned", 1)]}
    asyncio.run(operator.set_status(kube, "v", "LocalCluster", body, later))
    assert len(kube.patches) == 1, "the same status again is no write"
    asyncio.run(operator.set_status(kube, "v", "LocalCluster", body, {**later, "conditions": [
        operator.condition("Ready", "Provisioned", 2)]}))
    assert len(kube.patches) == 2, "a new generation observed is written"


def test_waits_are_not_posted_as_error_events():
    """kopf posts an object's log records of WARNING and above as Events (a write each): a wait is
    demoted on kopf's object logger itself, before its Event poster sees it."""
    objects, root = logging.getLogger("kopf.objects"), logging.getLogger()
    filters, handlers, level = list(objects.filters), list(root.handlers), root.level
    seen = []

    class Seen(logging.Handler):
        def emit(self, record):
            seen.append((record.levelno, record.getMessage()))
    catcher = Seen()
    try:
        operator.configure_logging()
        objects.addHandler(catcher)
        objects.error("Handler 'reconcile_cluster' failed temporarily: cluster c: waiting for its LocalCluster")
        objects.error("Handler 'reconcile_machine' failed temporarily: machine m: API server of c unreachable")
    finally:
        objects.removeHandler(catcher)
        objects.filters[:] = filters
        root.handlers[:], root.level = handlers, level
    unreachable = "Handler 'reconcile_machine' failed temporarily: machine m: API server of c unreachable"
    assert seen == [(logging.INFO, "cluster c: waiting for its LocalCluster"), (logging.ERROR, unreachable)]
