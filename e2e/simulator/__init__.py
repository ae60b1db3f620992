"""Simulated member clusters: a test tool, not part of Drover.

One asyncio process serves many virtual Kubernetes API servers, each under a path prefix
(`http://127.0.0.1:PORT/clusters/<name>`, the kubeconfig's `server`; kubernetes_asyncio, kubectl
and client-go all keep a path there), each with its own in-memory objects. It speaks the JSON
wire protocol for what Drover and CAPI do with members: discovery (CRDs applied at run time
show up), /version, /readyz, get/list (label and name selectors)/watch, create, server-side
apply with field ownership and conflicts, merge patch, delete, the status subresource,
Namespaces, and Nodes reported Ready. Per cluster: added latency and faults (drop the
connection, 503, 500), settable at run time through `Simulator` or `/admin/` (see server.py).

Python rather than Go: it runs beside the controller on two cores, so it must be one process
with one event loop and no thread or goroutine-heavy server per cluster; a virtual cluster is a
few dicts (its objects) plus a bounded event log, and a request costs a dict lookup and a JSON
encode. Python also keeps it beside the tests that drive it (knobs through a Python API), with
no build step. What it does not do: protobuf, aggregated discovery, OpenAPI, admission,
validation beyond names and CRD basics, garbage collection by ownerReferences, list-type merge
keys (lists are atomic in field ownership), real controllers — workloads and CRDs are reported
ready/Established at once.
"""

from .server import Simulator, kubeconfig
from .store import ApiError, VirtualCluster

__all__ = ["ApiError", "Simulator", "VirtualCluster", "kubeconfig"]
