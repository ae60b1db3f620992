"""A workload kubeconfig is reduced to server, CA, client certificate/key and token before use:
settings that run commands, read the controller's files, use a proxy or skip TLS verification
are refused by name; the key never reaches disk; messages never carry a credential."""

import asyncio
import base64
import json
import os
import ssl
import tempfile

import pytest

from mgmt import pki
from mgmt.kube import Unreachable
from mgmt.workload import (
    REFUSED_CLUSTER,
    REFUSED_USER,
    Access,
    BadKubeconfig,
    NoKubeconfig,
    UnsafeKubeconfig,
    WorkloadClients,
    client,
    reduce,
    ssl_context,
)

CA = pki.new_ca("workload-ca")
USER = pki.issue(CA, "admin", ("system:masters",))
TOKEN = "s3cr3t-token-value"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig(cluster: dict | None = None, user: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Config", "current-context": "ctx",
            "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1:6443",
                                                   "certificate-authority-data": b64(CA.cert_pem), **(cluster or {})}}],
            "users": [{"name": "u", "user": {"client-certificate-data": b64(USER.cert_pem),
                                             "client-key-data": b64(USER.key_pem), "token": TOKEN, **(user or {})}}],
            "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}]}


def test_only_server_ca_certificate_key_and_token_are_kept():
    access = reduce(kubeconfig(cluster={"tls-server-name": "x", "extensions": []}, user={"extensions": []}))
    assert access == Access("https://10.0.0.1:6443", CA.cert_pem, USER.cert_pem, USER.key_pem, TOKEN)
    assert TOKEN not in repr(access) and "PRIVATE" not in repr(access)


@pytest.mark.parametrize("setting", sorted(REFUSED_USER))
def test_user_settings_that_reach_past_the_kubeconfig_are_refused_by_name(setting):
    value = {"command": "sh", "args": ["-c", "id"], "apiVersion": "client.authentication.k8s.io/v1"} \
        if setting == "exec" else "/var/run/secrets/kubernetes.io/serviceaccount/token"
    with pytest.raises(UnsafeKubeconfig, match=f"sets {setting} ") as refused:
        reduce(kubeconfig(user={setting: value}))
    assert "/var/run" not in str(refused.value) and "sh" not in str(refused.value).split()


@pytest.mark.parametrize("setting", sorted(REFUSED_CLUSTER))
def test_cluster_settings_that_reach_past_the_kubeconfig_are_refused_by_name(setting):
    value = True if setting == "insecure-skip-tls-verify" else "http://proxy.internal:3128"
    with pytest.raises(UnsafeKubeconfig, match=f"sets {setting} "):
        reduce(kubeconfig(cluster={setting: value}))


def test_insecure_false_is_not_a_refusal():
    reduce(kubeconfig(cluster={"insecure-skip-tls-verify": False}))


@pytest.mark.parametrize("config, reason", [
    ("just text", "not a mapping"),
    ({**kubeconfig(), "clusters": "x"}, "clusters is not a list"),
    ({**kubeconfig(), "current-context": "other"}, "no context"),
    (kubeconfig(cluster={"server": "file:///etc/passwd"}), "not an http"),
    (kubeconfig(cluster={"server": f"https://{TOKEN}@h"}), "not an http"),
    (kubeconfig(cluster={"certificate-authority-data": "%%%"}), "certificate-authority-data is not base64"),
    (kubeconfig(user={"client-key-data": None}), "needs its key"),
    (kubeconfig(user={"token": TOKEN + "\n"}), "not a printable"),
])
def test_malformed_kubeconfigs_are_refused_without_their_values(config, reason):
    with pytest.raises(BadKubeconfig, match=reason) as refused:
        reduce(config)
    assert TOKEN not in str(refused.value)


def test_the_tls_context_is_built_in_memory(monkeypatch):
    def no_temp_files(*args, **kwargs):
        raise AssertionError("a temporary file was created")
    for name in ("NamedTemporaryFile", "mkstemp", "mkdtemp", "TemporaryDirectory"):
        monkeypatch.setattr(tempfile, name, no_temp_files)
    before = set(os.listdir(tempfile.gettempdir()))
    context = ssl_context(reduce(kubeconfig()))
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.get_ca_certs()[0]["subject"] == ((("commonName", "workload-ca"),),)

    async def build():
        kube = await client(reduce(kubeconfig()), 5)
        await kube.close()
    asyncio.run(build())
    assert set(os.listdir(tempfile.gettempdir())) <= before


def test_a_key_that_does_not_match_its_certificate_is_refused():
    other = pki.issue(CA, "other")
    with pytest.raises(BadKubeconfig, match="not a PEM certificate and its key"):
        ssl_context(reduce(kubeconfig(user={"client-key-data": b64(other.key_pem)})))


class Secrets:
    def __init__(self, config: dict):
        self.value = b64(json.dumps(config).encode())

    async def get(self, api_version, kind, name, namespace):
        return {"metadata": {"resourceVersion": "1"}, "data": {"value": self.value}}


def test_the_member_reason_names_the_secret_and_the_setting_only():
    clients = WorkloadClients(Secrets(kubeconfig(user={"exec": {"command": "curl"}})))
    with pytest.raises(NoKubeconfig) as refused:
        asyncio.run(clients.get("team-a", "web"))
    message = str(refused.value)
    assert message.startswith("Secret team-a/web-kubeconfig: the kubeconfig sets exec (it runs a command")
    assert "curl" not in message and TOKEN not in message


def test_clients_with_the_same_ca_and_certificate_share_one_tls_context():
    access = reduce(kubeconfig())
    context = ssl_context(access)
    assert ssl_context(reduce(kubeconfig())) is context
    other = pki.issue(CA, "other")
    assert ssl_context(reduce(kubeconfig(user={"client-certificate-data": b64(other.cert_pem),
                                               "client-key-data": b64(other.key_pem)}))) is not context
    assert ssl_context(Access(access.server, access.ca)) is not context  # no client certificate


def test_a_client_loads_no_system_ca_store_when_its_kubeconfig_has_a_ca(monkeypatch):
    loads = []
    real = ssl.SSLContext.load_default_certs
    monkeypatch.setattr(ssl.SSLContext, "load_default_certs", lambda self, *a: loads.append(1) or real(self, *a))

    async def build():
        for _ in range(3):
            kube = await client(reduce(kubeconfig()), 5)
            await kube.close()
    asyncio.run(build())
    assert loads == []


def test_a_client_is_the_librarys_client_on_its_own_session():
    """The REST and API clients are built without the library's __init__ (it would load the system
    CA store): they must carry every attribute the library's own have."""
    from kubernetes_asyncio import client as k8s

    async def build():
        library = k8s.ApiClient(k8s.Configuration(host="https://10.0.0.1:6443"))
        ours = await client(reduce(kubeconfig(user={"token": TOKEN})), 5)
        try:
            assert set(vars(library)) <= set(vars(ours.api))
            assert set(vars(library.rest_client)) <= set(vars(ours.api.rest_client))
            assert ours.api.rest_client.pool_manager.connector._ssl is ssl_context(reduce(kubeconfig()))
            headers = {}
            await ours.api.update_params_for_auth(headers, [], ["BearerToken"])
            assert {k.lower(): v for k, v in headers.items()}["authorization"] == f"Bearer {TOKEN}"
        finally:
            await library.close()
            await ours.close()
    asyncio.run(build())


def test_the_kubeconfig_secret_is_read_again_after_recheck_or_once_the_cluster_stopped_answering():
    class Counted(Secrets):
        reads = 0

        async def get(self, *args):
            Counted.reads += 1
            return await super().get(*args)

    async def run():
        clients = WorkloadClients(Counted(kubeconfig(user={"token": TOKEN})))
        first = await clients.get("ns", "web")
        assert await clients.get("ns", "web") is first and Counted.reads == 1  # within `recheck`: no read
        clients.suspect("ns", "web")
        assert await clients.get("ns", "web") is first and Counted.reads == 2  # read; same version, same client
        await clients.close()
    asyncio.run(run())


async def _requests_through_proxy(monkeypatch, no_proxy: str) -> list[bytes]:
    """The first line each connection brought to a real (refusing) HTTP proxy named by
    $HTTPS_PROXY, while a workload client made two requests to its cluster."""
    seen: list[bytes] = []

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readline())
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    for name in ("https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    kube = await client(Access(server="https://cluster.invalid:6443", ca=CA.cert_pem, token=TOKEN), timeout=5)
    try:
        for _ in range(2):
            with pytest.raises(Unreachable):  # refused by the proxy, or no such host
                await kube.get("v1", "Namespace", "default")
    finally:
        await kube.close()
        server.close()
        await server.wait_closed()
    return seen


def test_the_environments_proxy_is_used(monkeypatch):
    """$HTTPS_PROXY is the operator's setting (a kubeconfig's proxy-url is refused above): the
    client tunnels through it, found once per client rather than on every request."""
    seen = asyncio.run(_requests_through_proxy(monkeypatch, no_proxy="other.invalid"))
    assert seen and all(line.startswith(b"CONNECT cluster.invalid:6443 ") for line in seen), seen


def test_no_proxy_is_honoured(monkeypatch):
    assert asyncio.run(_requests_through_proxy(monkeypatch, no_proxy="cluster.invalid")) == []
