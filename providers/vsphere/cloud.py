"""vSphere through pyVmomi (VMware's own SDK): credentials, preflight, cloud-side health and the
Secret CAPV reads.

The connection pins the server's certificate by VSPHERE_TLS_THUMBPRINT, as CAPV does with VSphereCluster
`spec.thumbprint`: the certificate is read first and compared, then every connection trusts exactly
that certificate, so the password goes to no other server. (pyVmomi's own `thumbprint` is checked only
when CA verification fails, and not on the pool's later connections.)
Names are looked up the way CAPV's finder takes them: a bare name, a path inside the datacenter
(`host/cluster/Resources/pool`, `*/Resources`) or an absolute inventory path (`/dc/vm/folder`).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import http.client
import re
import ssl
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from providers.base import CloudHealth, ClusterRequest, Credentials, PreflightFailure, ProviderError
from providers.retry import redact, secrets_hidden
from providers.vsphere import defaults

#: Secret keys: CAPV's own (`username`, `password`), then clusterctl's variable names.
USERNAME_KEYS = ("username", "VSPHERE_USERNAME")
PASSWORD_KEYS = ("password", "VSPHERE_PASSWORD")
#: The variables preflight reads (the template needs them too), in the order they are checked.
PLACEMENT = ("VSPHERE_DATACENTER", "VSPHERE_DATASTORE", "VSPHERE_NETWORK", "VSPHERE_RESOURCE_POOL",
             "VSPHERE_FOLDER", "VSPHERE_TEMPLATE")
REQUIRED = ("VSPHERE_SERVER", "VSPHERE_TLS_THUMBPRINT", *PLACEMENT)
TIMEOUT = 20
GIB = 1024 ** 3
#: How an image-builder template says which Kubernetes it holds: `ubuntu-2404-kube-v1.33.4`, or an
#: annotation `... Kubernetes v1.33.4 ...`.
_KUBE_VERSION = re.compile(r"kube(?:rnetes)?[-_ ]?v?(\d+\.\d+\.\d+)", re.IGNORECASE)
_NETWORK_ERRORS = (OSError, http.client.HTTPException)  # socket, TLS and HTTP failures


@dataclass(frozen=True, repr=False)
class VSphereCredentials:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"VSphereCredentials(username={self.username!r})"


def parse_credentials(credentials: Credentials | None) -> VSphereCredentials:
    """The vCenter user from the Secret; errors name keys, never values."""
    if credentials is None:
        raise ProviderError("vSphere clusters need a credentialsRef Secret")

    def first(keys: tuple[str, ...]) -> str | None:
        return next((credentials.get(k) for k in keys if (credentials.get(k) or "").strip()), None)
    username, password = first(USERNAME_KEYS), first(PASSWORD_KEYS)
    if not username or not password:
        raise ProviderError(
            f"Secret {credentials.secret_name!r} needs username and password (or VSPHERE_USERNAME and "
            f"VSPHERE_PASSWORD); it has keys: {', '.join(sorted(credentials.keys())) or 'none'}")
    return VSphereCredentials(username.strip(), password)


def parse_server(value: str) -> tuple[str, int]:
    """(host, port) of VSPHERE_SERVER: `host`, `host:port` or `https://host[:port][/sdk]`."""
    parsed = urllib.parse.urlsplit(value if "//" in value else f"//{value}")
    try:
        port = parsed.port or 443
    except ValueError:
        port = None
    if not parsed.hostname or port is None or parsed.scheme not in ("", "https"):
        raise ProviderError(f"VSPHERE_SERVER {value!r} is not a host, host:port or https:// URL")
    return parsed.hostname, port


def _colons(thumbprint: str) -> str:
    plain = thumbprint.replace(":", "").upper()
    return ":".join(plain[i:i + 2] for i in range(0, len(plain), 2))


class Unreachable(Exception):
    """The server could not be reached or did not prove its identity; the message says which."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def pinned_context(host: str, port: int, thumbprint: str) -> ssl.SSLContext:
    """A TLS context that trusts only the server's certificate, once its SHA-1 (or SHA-256)
    thumbprint is the expected one."""
    expected = thumbprint.replace(":", "").lower()
    algorithm = {40: hashlib.sha1, 64: hashlib.sha256}.get(len(expected))
    if algorithm is None:
        raise Unreachable("InvalidThumbprint", f"VSPHERE_TLS_THUMBPRINT {thumbprint!r} is not a SHA-1 or "
                                               "SHA-256 thumbprint (hex pairs separated by colons)")
    pem = ssl.get_server_certificate((host, port), timeout=TIMEOUT)
    actual = algorithm(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
    if actual != expected:
        raise Unreachable("ThumbprintMismatch", (
            f"vSphere server {host}:{port} presents certificate thumbprint {_colons(actual)}, not "
            f"VSPHERE_TLS_THUMBPRINT {_colons(expected)}"))
    context = ssl.create_default_context(cadata=pem)
    context.check_hostname = False  # the pinned certificate is the identity
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # a leaf signed by vCenter's own CA
    return context


@contextmanager
def connect(variables, creds: VSphereCredentials) -> Iterator[vim.ServiceInstanceContent]:
    host, port = parse_server(variables["VSPHERE_SERVER"])
    where = f"vSphere server {host}:{port}"
    try:
        context = pinned_context(host, port, variables["VSPHERE_TLS_THUMBPRINT"])
        instance = SmartConnect(host=host, port=port, user=creds.username, pwd=creds.password,
                                sslContext=context, httpConnectionTimeout=TIMEOUT)
    except vim.fault.InvalidLogin:
        raise Unreachable("InvalidCredentials", f"{where} refused the user {creds.username!r}") from None
    except _NETWORK_ERRORS as exc:
        # CloudAPIError: the controller asks again (a vCenter restarting is not a verdict)
        raise Unreachable("CloudAPIError", f"{where} cannot be reached: {type(exc).__name__}") from None
    try:
        yield instance.RetrieveContent()
    finally:
        Disconnect(instance)


# --- inventory -------------------------------------------------------------------------------


def _retrieve(content, root, types: list, properties: list[str]) -> list:
    """Objects of `types` under `root` with `properties`, in as few round trips as the server allows."""
    view = content.viewManager.CreateContainerView(root, types, True)
    try:
        query = vmodl.query.PropertyCollector
        spec = query.FilterSpec(
            objectSet=[query.ObjectSpec(obj=view, skip=True, selectSet=[
                query.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)])],
            propSet=[query.PropertySpec(type=t, pathSet=properties) for t in types])
        collector = content.propertyCollector
        result = collector.RetrievePropertiesEx([spec], query.RetrieveOptions())
        found = []
        while result:
            found += result.objects
            result = collector.ContinueRetrievePropertiesEx(result.token) if result.token else None
        return found
    finally:
        view.Destroy()


class Datacenter:
    """Every entity of one datacenter with its path inside it (`vm/folder/name`), from one query."""

    def __init__(self, content, datacenter, path: str):
        self.entity, self.path = datacenter, path
        self.names, parents = {}, {}
        for item in _retrieve(content, datacenter, [vim.ManagedEntity], ["name", "parent"]):
            props = {p.name: p.val for p in item.propSet}
            self.names[item.obj] = props.get("name", "")
            parents[item.obj] = props.get("parent")
        self.paths = {obj: self._path(obj, parents) for obj in self.names}

    def _path(self, obj, parents) -> str:
        parts = []
        while obj is not None and obj != self.entity and obj in self.names:
            parts.append(self.names[obj])
            obj = parents.get(obj)
        return "/".join(reversed(parts))

    def find(self, kind, ref: str) -> list:
        """Entities of `kind` that `ref` names (bare name, relative path or glob, absolute path)."""
        if ref.startswith("/"):
            prefix = f"/{self.path}/"
            wanted = ref[len(prefix):] if ref.startswith(prefix) else None
            return [o for o, p in self.paths.items() if isinstance(o, kind) and p == wanted]
        return [o for o, p in self.paths.items()
                if isinstance(o, kind) and (fnmatch.fnmatchcase(p, ref) or fnmatch.fnmatchcase(p, f"*/{ref}"))]


def _inventory_path(content, entity) -> str:
    parts = []
    while entity is not None and entity != content.rootFolder:
        parts.append(entity.name)
        entity = entity.parent
    return "/".join(reversed(parts))


def find_datacenter(content, ref: str) -> Datacenter | None:
    """The datacenter named `ref` (a name, or its path when it is inside folders)."""
    wanted = ref.strip("/")
    entity = content.searchIndex.FindByInventoryPath(wanted)
    if not isinstance(entity, vim.Datacenter):
        named = [i.obj for i in _retrieve(content, content.rootFolder, [vim.Datacenter], ["name"])
                 if i.propSet[0].val == wanted]
        entity = named[0] if len(named) == 1 else None
    return Datacenter(content, entity, _inventory_path(content, entity)) if entity is not None else None


# --- preflight -------------------------------------------------------------------------------


def _settings(request: ClusterRequest) -> tuple[dict[str, str], list[PreflightFailure]]:
    """The placement variables as the template gets them (the region is the datacenter)."""
    given = {"VSPHERE_DATACENTER": request.region or "", **request.variables}
    values = {k: (given.get(k) or "").strip() for k in REQUIRED}
    missing = [k for k in REQUIRED if not values[k]]
    if missing:
        return values, [PreflightFailure("VariableNotSet", (
            f"vSphere cluster {request.name} needs the variables {', '.join(missing)}"))]
    try:
        parse_server(values["VSPHERE_SERVER"])
    except ProviderError as exc:
        return values, [PreflightFailure("InvalidServer", str(exc))]
    return values, []


def preflight(request: ClusterRequest, credentials: Credentials | None) -> list[PreflightFailure]:
    try:
        creds = parse_credentials(credentials)
    except ProviderError as exc:
        return [PreflightFailure("InvalidCredentials", str(exc))]
    variables, failures = _settings(request)
    if failures:
        return failures
    try:
        with secrets_hidden([creds.password]), connect(variables, creds) as content:
            failures = _preflight(request, content, variables)
    except Unreachable as exc:
        failures = [PreflightFailure(exc.reason, str(exc))]
    except vmodl.MethodFault as exc:
        failures = [PreflightFailure("CloudAPIError", f"vSphere API call failed: {_explain(exc)}")]
    except _NETWORK_ERRORS as exc:
        failures = [PreflightFailure("CloudAPIError", f"the vSphere server stopped answering: {type(exc).__name__}")]
    return [PreflightFailure(f.reason, redact(f.message, [creds.password])) for f in failures]


def _explain(exc: vmodl.MethodFault) -> str:
    return f"{type(exc).__name__.rsplit('.', 1)[-1]}: {exc.msg}" if getattr(exc, "msg", None) else type(exc).__name__


def _some(names: list[str], limit: int = 3) -> str:
    return ", ".join(names[:limit]) + (f" (+{len(names) - limit})" if len(names) > limit else "")


def _one(datacenter: Datacenter, kind, variable: str, ref: str, what: str) -> tuple[object, PreflightFailure | None]:
    """The one entity `ref` names. Messages are short: a member's condition keeps 200 characters
    of all its failures together."""
    found = datacenter.find(kind, ref)
    if len(found) == 1:
        return found[0], None
    reason = what.title().replace(" ", "")
    if not found:
        return None, PreflightFailure(f"{reason}NotFound",
                                      f"{what} {ref!r} ({variable}) not found in {datacenter.path}")
    paths = _some(sorted(datacenter.paths[o] for o in found))
    return None, PreflightFailure(f"{reason}Ambiguous", f"{what} {ref!r} ({variable}) names several: {paths}")


def _preflight(request: ClusterRequest, content, variables: dict[str, str]) -> list[PreflightFailure]:
    datacenter = find_datacenter(content, variables["VSPHERE_DATACENTER"])
    if datacenter is None:
        names = sorted(_inventory_path(content, i.obj)
                       for i in _retrieve(content, content.rootFolder, [vim.Datacenter], ["name"]))
        return [PreflightFailure("DatacenterNotFound", (
            f"datacenter {variables['VSPHERE_DATACENTER']!r} (VSPHERE_DATACENTER) not found; "
            f"there are: {_some(names) or 'none'}"))]
    failures = []
    checks = (("VSPHERE_DATASTORE", vim.Datastore, "datastore"), ("VSPHERE_NETWORK", vim.Network, "network"),
              ("VSPHERE_RESOURCE_POOL", vim.ResourcePool, "resource pool"), ("VSPHERE_FOLDER", vim.Folder, "folder"),
              ("VSPHERE_TEMPLATE", vim.VirtualMachine, "template"))
    found = {}
    for variable, kind, what in checks:
        found[variable], failure = _one(datacenter, kind, variable, variables[variable], what)
        if failure:
            failures.append(failure)
    if found["VSPHERE_FOLDER"] is not None and "VirtualMachine" not in found["VSPHERE_FOLDER"].childType:
        failures.append(PreflightFailure("FolderNotForVMs", (
            f"folder {variables['VSPHERE_FOLDER']!r} (VSPHERE_FOLDER) cannot hold virtual machines")))
    if found["VSPHERE_TEMPLATE"] is not None:
        failures += _check_template(request, found["VSPHERE_TEMPLATE"], variables["VSPHERE_TEMPLATE"])
    if found["VSPHERE_DATASTORE"] is not None:
        failures += _check_space(request, found["VSPHERE_DATASTORE"], variables["VSPHERE_DATASTORE"])
    return failures


def _check_template(request: ClusterRequest, template, ref: str) -> list[PreflightFailure]:
    """An image-builder template names its Kubernetes version; it must be the cluster's."""
    config = template.config
    said = f"{template.name} {(config.annotation if config else '') or ''}"
    versions = sorted(set(_KUBE_VERSION.findall(said)))
    wanted = request.kubernetes_version.lstrip("v")
    if versions and wanted not in versions:
        return [PreflightFailure("TemplateVersionMismatch", (
            f"template {ref!r} (VSPHERE_TEMPLATE) holds Kubernetes v{', v'.join(versions)}, not v{wanted}"))]
    return []


def machine_count(request: ClusterRequest) -> int:
    return request.control_plane_replicas + sum(p.replicas for p in request.workers)


def _disk_gib(request: ClusterRequest) -> int:
    value = request.variables.get("VSPHERE_DISK_GIB") or str(defaults.DISK_GIB)
    if not value.isdigit():
        raise ProviderError(f"VSPHERE_DISK_GIB {value!r} is not a whole number of GiB")
    return int(value)


def _check_space(request: ClusterRequest, datastore, ref: str) -> list[PreflightFailure]:
    """Every declared machine may grow to its whole disk (a linked clone starts small, a full
    clone does not), so the datastore must have that much free."""
    try:
        disk = _disk_gib(request)
    except ProviderError as exc:
        return [PreflightFailure("InvalidVariable", str(exc))]
    summary = datastore.summary
    if not summary.accessible:
        return [PreflightFailure("DatastoreNotAccessible", f"datastore {ref!r} (VSPHERE_DATASTORE) is not accessible")]
    machines = machine_count(request)
    needed, free = machines * disk * GIB, summary.freeSpace
    if free < needed:
        return [PreflightFailure("InsufficientDatastoreSpace", (
            f"datastore {ref!r} (VSPHERE_DATASTORE): {free / GIB:.0f} GiB free, {machines} machines "
            f"of {disk} GiB need {needed / GIB:.0f}"))]
    return []


# --- cloud health ----------------------------------------------------------------------------


def cloud_health(request: ClusterRequest, credentials: Credentials | None) -> CloudHealth:
    try:
        creds = parse_credentials(credentials)
    except ProviderError as exc:
        return CloudHealth("Unknown", str(exc))
    variables, failures = _settings(request)
    if failures:
        return CloudHealth("Unknown", failures[0].message)
    try:
        with secrets_hidden([creds.password]), connect(variables, creds) as content:
            health = _health(request, content, variables)
    except Unreachable as exc:
        health = CloudHealth("Unknown", str(exc))
    except vmodl.MethodFault as exc:
        health = CloudHealth("Unknown", f"vSphere API call failed: {_explain(exc)}")
    except _NETWORK_ERRORS as exc:
        health = CloudHealth("Unknown", f"the vSphere server stopped answering: {type(exc).__name__}")
    return CloudHealth(health.state, redact(health.message, [creds.password]), health.details)


def cluster_vms(request: ClusterRequest, content, datacenter) -> dict[str, tuple[str, str]]:
    """VM name -> (owner, power state) of the cluster's VMs in the datacenter, by CAPV's naming."""
    prefixes = sorted(defaults.vm_prefixes(request).items(), key=lambda p: -len(p[0]))
    vms = {}
    for item in _retrieve(content, datacenter.vmFolder, [vim.VirtualMachine], ["name", "runtime.powerState"]):
        props = {p.name: p.val for p in item.propSet}
        name = props.get("name", "")
        owner = next((o for prefix, o in prefixes if name.startswith(prefix)), None)
        if owner:
            vms[name] = (owner, str(props.get("runtime.powerState", "unknown")))
    return vms


def _health(request: ClusterRequest, content, variables: dict[str, str]) -> CloudHealth:
    datacenter = find_datacenter(content, variables["VSPHERE_DATACENTER"])
    if datacenter is None:
        return CloudHealth("Unknown", f"datacenter {variables['VSPHERE_DATACENTER']!r} does not exist")
    vms = cluster_vms(request, content, datacenter.entity)
    if not vms:
        return CloudHealth("NotFound", f"no VMs named {request.name}-control-plane-* or after its pools "
                                       f"in datacenter {datacenter.path}")
    states = Counter(state for _, state in vms.values())
    details = {f"vms.{state}": str(n) for state, n in sorted(states.items())}
    down = sorted(f"{name} ({owner}) is {state}" for name, (owner, state) in vms.items() if state != "poweredOn")
    if down:
        return CloudHealth("Degraded", "; ".join(down), details)
    declared = machine_count(request)
    if len(vms) < declared:
        return CloudHealth("Provisioning", f"{len(vms)} of {declared} VMs exist, all powered on", details)
    return CloudHealth("Healthy", f"{len(vms)} VMs powered on", details)


# --- credential objects ----------------------------------------------------------------------


def credential_objects(request: ClusterRequest, credentials: Credentials) -> list[dict]:
    """The Secret (`username`, `password`) in the cluster's namespace that VSphereCluster
    `spec.identityRef: {kind: Secret}` names; CAPV reads it per cluster."""
    creds = parse_credentials(credentials)
    data = {"username": creds.username, "password": creds.password}
    return [{
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": defaults.credentials_secret_name(request), "namespace": request.namespace,
                     "labels": {"app.kubernetes.io/managed-by": "drover"}},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }]
