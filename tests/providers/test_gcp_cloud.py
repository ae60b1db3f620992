"""GCP preflight, cloud health and the CAPG Secret, with the real google-cloud clients talking
REST to a fake (the `responses` library answers their HTTP requests)."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from providers import retry
from providers.base import ClusterRequest, Credentials, PreflightFailure, ProviderError, WorkerPool
from providers.gcp import cloud

COMPUTE = "https://compute.googleapis.com/compute/v1/projects/proj-1"
CONTAINER = "https://container.googleapis.com/v1/projects/proj-1/locations"


@pytest.fixture(scope="module")
def sa_json() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "proj-1",
            "private_key_id": "0123456789abcdef0123",
            "private_key": pem,
            "client_email": "capg@proj-1.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


@pytest.fixture
def creds(sa_json) -> Credentials:
    return Credentials("gcp-creds", {"credentials.json": sa_json})


def request(**overrides) -> ClusterRequest:
    fields = {
        "name": "prod-1",
        "namespace": "team-a",
        "provider": "gcp",
        "flavor": "kubeadm",
        "kubernetes_version": "v1.31.5",
        "region": "europe-west1",
        "workers": (WorkerPool("pool-a", 2, "e2-standard-4"), WorkerPool("pool-b", 1)),
    }
    return ClusterRequest(**{**fields, **overrides})


def error(code: int, status: str, message: str) -> dict:
    return {"error": {"code": code, "status": status, "message": message}}


@pytest.fixture
def gcp(monkeypatch):
    """A fake GCP project proj-1 with region europe-west1 (zones b, c, d)."""
    monkeypatch.setattr(retry, "sleep", lambda seconds: None)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as fake:
        fake.post(
            "https://oauth2.googleapis.com/token", json={"access_token": "t", "expires_in": 3600}
        )
        fake.get(
            f"{COMPUTE}/regions/europe-west1",
            json={
                "name": "europe-west1",
                "status": "UP",
                "zones": [f"{COMPUTE}/zones/europe-west1-{z}" for z in "bcd"],
            },
        )
        fake.get(
            f"{COMPUTE}/regions/mars-north1", status=404, json=error(404, "NOT_FOUND", "not found")
        )
        fake.get(
            f"{COMPUTE}/regions",
            json={"items": [{"name": n} for n in ("europe-west1", "us-central1")]},
        )
        for zone, types in {
            "b": ["e2-standard-4", "n2-standard-2"],
            "c": ["n2-standard-2", "a2-highgpu-1g"],
            "d": ["n2-standard-2"],
        }.items():
            fake.get(
                f"{COMPUTE}/zones/europe-west1-{zone}/machineTypes",
                json={"items": [{"name": t} for t in types]},
            )
        fake.get(
            f"{CONTAINER}/europe-west1/serverConfig",
            json={
                "defaultClusterVersion": "1.31.5-gke.1023000",
                "validMasterVersions": ["1.31.5-gke.1023000", "1.30.9-gke.1201000"],
                "channels": [{"channel": "RAPID", "validVersions": ["1.32.1-gke.1357000"]}],
            },
        )
        yield fake


# --- credentials -----------------------------------------------------------------------------


def test_b64_form_is_accepted(sa_json):
    creds = Credentials(
        "c", {"GCP_B64ENCODED_CREDENTIALS": base64.b64encode(sa_json.encode()).decode()}
    )
    parsed = cloud.parse_credentials(creds)
    assert parsed.project == "proj-1"
    assert "PRIVATE KEY" not in repr(parsed)


def test_project_variable_wins(creds):
    assert (
        cloud.parse_credentials(creds, request(variables={"GCP_PROJECT": "other"})).project
        == "other"
    )


def test_missing_key_is_named():
    with pytest.raises(
        ProviderError, match=r"needs a service-account key in credentials.json .*keys: token"
    ):
        cloud.parse_credentials(Credentials("gcp-creds", {"token": "x"}))


def test_missing_fields_are_named(sa_json):
    info = json.loads(sa_json)
    del info["private_key"], info["client_email"]
    with pytest.raises(ProviderError, match="has no client_email, private_key$"):
        cloud.parse_credentials(Credentials("c", {"credentials.json": json.dumps(info)}))


def test_broken_json_is_not_quoted():
    with pytest.raises(ProviderError, match="is not service-account JSON") as err:
        cloud.parse_credentials(Credentials("c", {"credentials": '{"private_key": "sekrit-value'}))
    assert "sekrit" not in str(err.value) and err.value.__cause__ is None


def test_user_credentials_are_refused(sa_json):
    info = {**json.loads(sa_json), "type": "authorized_user"}
    with pytest.raises(
        ProviderError, match="'authorized_user' credential, not a service_account key"
    ):
        cloud.parse_credentials(Credentials("c", {"credentials.json": json.dumps(info)}))


# --- preflight -------------------------------------------------------------------------------


def test_preflight_passes_for_kubeadm(gcp, creds):
    assert cloud.preflight(request(), creds) == []
    assert gcp.calls[0].request.headers["Authorization"].startswith("Bearer ")


def test_preflight_passes_for_gke(gcp, creds):
    assert cloud.preflight(request(flavor="gke", kubernetes_version="v1.31"), creds) == []
    assert (
        cloud.preflight(request(flavor="gke", kubernetes_version="1.32.1-gke.1357000"), creds) == []
    )


def test_preflight_passes_in_a_zone(gcp, creds):
    req = request(region="europe-west1-c", control_plane_machine_type="a2-highgpu-1g", workers=())
    assert cloud.preflight(req, creds) == []


def test_preflight_missing_secret_key():
    [failure] = cloud.preflight(request(), Credentials("gcp-creds", {}))
    assert failure.reason == "InvalidCredentials"
    assert failure.message == (
        "Secret 'gcp-creds' needs a service-account key in credentials.json (or GCP_B64ENCODED_CREDENTIALS); "
        "it has keys: none"
    )


def test_preflight_unauthenticated(gcp, creds):
    gcp.replace(
        responses.GET,
        f"{COMPUTE}/regions/europe-west1",
        status=401,
        json=error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
    )
    [failure] = cloud.preflight(request(), creds)
    assert failure == PreflightFailure(
        "InvalidCredentials",
        (
            "GCP rejected service account capg@proj-1.iam.gserviceaccount.com from Secret 'gcp-creds': "
            "Unauthorized (HTTP 401): Request had invalid authentication credentials."
        ),
    )


def test_preflight_permission_denied(gcp, creds):
    gcp.replace(
        responses.GET,
        f"{COMPUTE}/regions/europe-west1",
        status=403,
        json=error(403, "PERMISSION_DENIED", "Required 'compute.regions.get' permission"),
    )
    [failure] = cloud.preflight(request(), creds)
    assert failure.reason == "InvalidCredentials"
    assert failure.message.endswith(
        "Forbidden (HTTP 403): Required 'compute.regions.get' permission"
    )


def test_preflight_region_not_found(gcp, creds):
    [failure] = cloud.preflight(request(region="mars-north1"), creds)
    assert failure == PreflightFailure(
        "RegionNotFound",
        "GCP region 'mars-north1' does not exist; regions: europe-west1, us-central1",
    )


def test_preflight_zone_not_in_region(gcp, creds):
    [failure] = cloud.preflight(request(region="europe-west1-z"), creds)
    assert failure == PreflightFailure(
        "RegionNotFound",
        "GCP zone 'europe-west1-z' does not exist in europe-west1; zones: europe-west1-b, europe-west1-c, europe-west1-d",
    )


def test_preflight_machine_type_not_offered(gcp, creds):
    req = request(
        control_plane_machine_type="n2-standard-999", workers=(WorkerPool("gpu", 1, "z9-mega"),)
    )
    assert cloud.preflight(req, creds) == [
        PreflightFailure(
            "MachineTypeNotOffered",
            (
                "machine type n2-standard-999 (control plane) is not offered in europe-west1; offered: n2-standard-2"
            ),
        ),
        PreflightFailure(
            "MachineTypeNotOffered",
            (
                "machine type z9-mega (pool gpu) is not offered in europe-west1; "
                "offered: a2-highgpu-1g, e2-standard-4, n2-standard-2"
            ),
        ),
    ]


def test_preflight_checks_default_machine_type(gcp, creds):
    # a2-highgpu-1g is offered in zone c only: in zone b the default and the GPU type are missing
    req = request(
        region="europe-west1-b",
        control_plane_machine_type="a2-highgpu-1g",
        workers=(WorkerPool("a", 1),),
    )
    messages = [f.message.split(" is ")[0] for f in cloud.preflight(req, creds)]
    assert messages == ["machine type a2-highgpu-1g (control plane)"]
    gcp.replace(
        responses.GET,
        f"{COMPUTE}/zones/europe-west1-b/machineTypes",
        json={"items": [{"name": "e2-small"}]},
    )
    messages = [
        f.message.split(" is ")[0]
        for f in cloud.preflight(request(region="europe-west1-b", workers=()), creds)
    ]
    assert messages == ["machine type n2-standard-2 (control plane)"]


def test_preflight_gke_version_unsupported(gcp, creds):
    [failure] = cloud.preflight(request(flavor="gke", kubernetes_version="v1.27.3"), creds)
    assert failure == PreflightFailure(
        "KubernetesVersionUnsupported",
        (
            "GKE in europe-west1 does not offer Kubernetes 1.27.3 (requested v1.27.3); "
            "offered: 1.32.1-gke.1357000, 1.31.5-gke.1023000, 1.30.9-gke.1201000"
        ),
    )


def test_preflight_gke_checks_worker_types_only(gcp, creds):
    req = request(
        flavor="gke", control_plane_machine_type="ignored", workers=(WorkerPool("w", 1, "z9-mega"),)
    )
    assert [f.message.split(" is ")[0] for f in cloud.preflight(req, creds)] == [
        "machine type z9-mega (pool w)"
    ]


def test_preflight_server_error_after_retries(gcp, creds):
    gcp.replace(
        responses.GET,
        f"{COMPUTE}/regions/europe-west1",
        status=503,
        json=error(503, "UNAVAILABLE", "backend unavailable"),
    )
    [failure] = cloud.preflight(request(), creds)
    assert failure == PreflightFailure(
        "CloudAPIError",
        "GCP API call failed: ServiceUnavailable (HTTP 503): backend unavailable",
    )
    assert (
        len([c for c in gcp.calls if c.request.url.startswith(f"{COMPUTE}/regions/")])
        == retry.ATTEMPTS
    )


# --- cloud health ----------------------------------------------------------------------------


def gke_cluster(status="RUNNING", pool_status="RUNNING", conditions=(), pool_conditions=()) -> dict:
    return {
        "name": "prod-1",
        "status": status,
        "currentMasterVersion": "1.31.5-gke.1023000",
        "conditions": list(conditions),
        "nodePools": [
            {"name": "pool-a", "status": pool_status, "conditions": list(pool_conditions)}
        ],
    }


def test_gke_health_healthy(gcp, creds):
    gcp.get(f"{CONTAINER}/europe-west1/clusters/prod-1", json=gke_cluster())
    health = cloud.cloud_health(request(flavor="gke"), creds)
    assert (health.state, health.message) == ("Healthy", "GKE cluster prod-1 is RUNNING")
    assert health.details == {
        "gke.status": "RUNNING",
        "gke.version": "1.31.5-gke.1023000",
        "nodepool.pool-a": "RUNNING",
    }


def test_gke_health_degraded_node_pool(gcp, creds):
    condition = {
        "canonicalCode": "RESOURCE_EXHAUSTED",
        "message": "Quota CPUS exceeded in europe-west1",
    }
    gcp.get(
        f"{CONTAINER}/europe-west1/clusters/prod-1",
        json=gke_cluster(pool_status="RUNNING_WITH_ERROR", pool_conditions=[condition]),
    )
    health = cloud.cloud_health(request(flavor="gke"), creds)
    assert health.state == "Degraded"
    assert (
        health.message
        == "node pool pool-a: RESOURCE_EXHAUSTED: Quota CPUS exceeded in europe-west1"
    )


def test_gke_health_provisioning(gcp, creds):
    gcp.get(
        f"{CONTAINER}/europe-west1/clusters/prod-1",
        json=gke_cluster(status="PROVISIONING", pool_status="PROVISIONING"),
    )
    assert cloud.cloud_health(request(flavor="gke"), creds).state == "Provisioning"


def test_gke_health_not_found(gcp, creds):
    gcp.get(
        f"{CONTAINER}/europe-west1/clusters/prod-1",
        status=404,
        json=error(404, "NOT_FOUND", "not found"),
    )
    health = cloud.cloud_health(request(flavor="gke"), creds)
    assert (health.state, health.message) == (
        "NotFound",
        "GKE cluster prod-1 does not exist in europe-west1",
    )


def instances(*statuses: str, zone="europe-west1-b") -> dict:
    return {
        "items": {
            f"zones/{zone}": {
                "instances": [{"name": f"prod-1-{n}", "status": s} for n, s in enumerate(statuses)]
            },
            "zones/us-central1-a": {"instances": [{"name": "elsewhere", "status": "TERMINATED"}]},
            "zones/europe-west1-c": {"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "none"}},
        }
    }


def test_kubeadm_health(gcp, creds):
    url = f"{COMPUTE}/aggregated/instances"
    gcp.get(url, json=instances("RUNNING", "RUNNING"))
    health = cloud.cloud_health(request(), creds)
    assert (health.state, health.message, health.details) == (
        "Healthy",
        "2 instances running",
        {"instances.running": "2"},
    )
    gcp.replace(responses.GET, url, json=instances("RUNNING", "TERMINATED"))
    health = cloud.cloud_health(request(), creds)
    assert (health.state, health.message) == ("Degraded", "1 instance(s) not running: prod-1-1")
    gcp.replace(responses.GET, url, json=instances("STAGING", "RUNNING"))
    assert cloud.cloud_health(request(), creds).state == "Provisioning"
    gcp.replace(responses.GET, url, json=instances(zone="europe-west1-d"))
    health = cloud.cloud_health(request(), creds)
    assert (health.state, health.message) == (
        "NotFound",
        "no instances labelled capg-cluster-prod-1=owned in europe-west1",
    )


def test_kubeadm_health_filters_on_the_capg_label(gcp, creds):
    gcp.get(
        re.compile(rf"{re.escape(COMPUTE)}/aggregated/instances\?.*"), json=instances("RUNNING")
    )
    cloud.cloud_health(request(), creds)
    query = parse_qs(urlparse(gcp.calls[-1].request.url).query)
    assert query["filter"] == ['labels.capg-cluster-prod-1 = "owned"']


def test_health_with_unreadable_secret_is_unknown():
    health = cloud.cloud_health(request(), Credentials("gcp-creds", {"credentials": "{}"}))
    assert health.state == "Unknown"
    assert health.message == (
        "the service-account JSON in key credentials of Secret 'gcp-creds' has no type, client_email, private_key, token_uri"
    )


# --- credential objects ----------------------------------------------------------------------


def test_credentials_secret_for_capg(creds, sa_json):
    [secret] = cloud.credential_objects(request(), creds)
    assert secret["kind"] == "Secret"
    assert (secret["metadata"]["name"], secret["metadata"]["namespace"]) == (
        "prod-1-gcp-credentials",
        "team-a",
    )
    assert json.loads(base64.b64decode(secret["data"]["credentials"])) == json.loads(sa_json)
