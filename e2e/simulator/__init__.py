"""Simulated member clusters: a test tool, not part of Drover.

One asyncio process serves many virtual Kubernetes API servers, each under a path prefix
(`http://127.0.0.1:PORT/clusters/<name>`, the kubeconfig's `server`; kubernetes_asyncio, kubectl
and client-go all keep a path there), each with its own in-memory objects. It speaks the JSON
wire protocol for what Drover and CAPI do with members: discovery (CRDs applied at run time
show up), /version, /readyz, /livez, get/list (label and field selectors, pages)/watch (from a
resource version, streaming lists), create, server-side apply with field ownership
(metadata.managedFields) and conflicts, merge patch, delete, the status subresource, Namespaces,
and Nodes reported Ready. Per cluster: added latency and faults (drop the connection, 503, 500),
settable at run time through `Simulator` or `/admin/` (see server.py).

Python rather than Go: beside the controller on two cores it must stay one process with one
event loop and nothing per cluster but data, and at that it is cheap enough: ~0.5-0.8 ms of CPU
per request (an apply included), ~9 KiB resident per idle virtual cluster with three Nodes,
objects kept as compact JSON (a Deployment ~2 KB). A Go server would cost less CPU per request,
but would add a build to `e2e/tools` and move the knobs away from the Python tests that turn
them. What it does not do: protobuf (beyond the bodies `kubectl create` sends for Namespaces,
ConfigMaps, Secrets and ServiceAccounts; answers are always JSON, which clients take),
aggregated discovery (clients fall back), OpenAPI schemas (a stub tells kubectl to leave
validation to the server), admission, validation beyond names and CRD basics, garbage
collection by ownerReferences, list merge keys (lists are atomic in field ownership), real
controllers: Deployments, StatefulSets, DaemonSets, ReplicaSets and Jobs are reported ready and
CRDs Established at once.
"""

from .server import Simulator, kubeconfig
from .store import ApiError, VirtualCluster

__all__ = ["ApiError", "Simulator", "VirtualCluster", "kubeconfig"]
