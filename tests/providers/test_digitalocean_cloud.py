"""DigitalOcean preflight, cloud health and the CAPDO Secret, with python-digitalocean talking to
a fake API (`responses`)."""

from __future__ import annotations

import base64

import pytest
import responses

from providers import retry
from providers.base import ClusterRequest, Credentials, PreflightFailure, ProviderError, WorkerPool
from providers.digitalocean import cloud

API = "https://api.digitalocean.com/v2"
TOKEN = "dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
CREDS = Credentials("do-creds", {"DIGITALOCEAN_ACCESS_TOKEN": TOKEN})


def request(**overrides) -> ClusterRequest:
    fields = {
        "name": "prod-1",
        "namespace": "team-a",
        "provider": "digitalocean",
        "flavor": "kubeadm",
        "kubernetes_version": "v1.31.2",
        "region": "nyc3",
        "workers": (WorkerPool("pool-a", 2, "s-4vcpu-8gb"), WorkerPool("pool-b", 1)),
        "variables": {
            "DO_CONTROL_PLANE_MACHINE_IMAGE": "capi-ubuntu-2404",
            "DO_NODE_MACHINE_IMAGE": "123456",
        },
    }
    return ClusterRequest(**{**fields, **overrides})


def droplet(name: str, status: str = "active") -> dict:
    return {
        "id": abs(hash(name)) % 10**6,
        "name": name,
        "status": status,
        "tags": ["sigs-k8s-io:capdo:prod-1"],
        "networks": {"v4": [], "v6": []},
        "features": [],
    }


def balancer(name: str = "prod-1-apiserver", status: str = "active") -> dict:
    return {
        "id": "lb-1",
        "name": name,
        "status": status,
        "health_check": {},
        "sticky_sessions": {},
        "forwarding_rules": [],
    }


@pytest.fixture
def do(monkeypatch):
    monkeypatch.setattr(retry, "sleep", lambda seconds: None)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as fake:
        fake.get(
            f"{API}/account/", json={"account": {"status": "active", "email": "ops@example.com"}}
        )
        fake.get(
            f"{API}/regions/",
            json={
                "regions": [
                    {
                        "slug": "nyc3",
                        "name": "New York 3",
                        "available": True,
                        "sizes": [],
                        "features": [],
                    },
                    {
                        "slug": "ams3",
                        "name": "Amsterdam 3",
                        "available": True,
                        "sizes": [],
                        "features": [],
                    },
                    {
                        "slug": "sfo1",
                        "name": "San Francisco 1",
                        "available": False,
                        "sizes": [],
                        "features": [],
                    },
                ],
                "links": {},
            },
        )
        fake.get(
            f"{API}/sizes/",
            json={
                "sizes": [
                    {"slug": "s-2vcpu-4gb", "available": True, "regions": ["nyc3", "ams3"]},
                    {"slug": "s-4vcpu-8gb", "available": True, "regions": ["nyc3"]},
                    {"slug": "g-8vcpu-32gb", "available": True, "regions": ["ams3"]},
                ],
                "links": {},
            },
        )
        fake.get(
            f"{API}/images/capi-ubuntu-2404",
            json={"image": {"slug": "capi-ubuntu-2404", "regions": ["nyc3", "ams3"]}},
        )
        fake.get(f"{API}/images/123456", json={"image": {"id": 123456, "regions": ["nyc3"]}})
        fake.get(
            f"{API}/images/nope",
            status=404,
            json={
                "id": "not_found",
                "message": "The resource you were accessing could not be found.",
            },
        )
        yield fake


# --- credentials -----------------------------------------------------------------------------


def test_token_keys():
    assert cloud.parse_token(Credentials("c", {"token": TOKEN})) == TOKEN
    b64 = base64.b64encode(TOKEN.encode()).decode()
    assert cloud.parse_token(Credentials("c", {"DO_B64ENCODED_CREDENTIALS": b64})) == TOKEN


def test_missing_token_names_keys():
    with pytest.raises(
        ProviderError,
        match=r"^Secret 'c' has no DIGITALOCEAN_ACCESS_TOKEN \(or token\); it has keys: foo$",
    ):
        cloud.parse_token(Credentials("c", {"foo": "bar"}))


# --- preflight -------------------------------------------------------------------------------


def test_preflight_passes(do):
    assert cloud.preflight(request(), CREDS) == []
    assert do.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_preflight_missing_token():
    [failure] = cloud.preflight(request(), Credentials("do-creds", {}))
    assert failure == PreflightFailure(
        "InvalidCredentials",
        "Secret 'do-creds' has no DIGITALOCEAN_ACCESS_TOKEN (or token); it has keys: none",
    )


def test_preflight_rejected_token(do):
    do.replace(
        responses.GET,
        f"{API}/account/",
        status=401,
        json={"id": "Unauthorized", "message": "Unable to authenticate you"},
    )
    [failure] = cloud.preflight(request(), CREDS)
    assert failure == PreflightFailure(
        "InvalidCredentials",
        "DigitalOcean rejected the token in Secret 'do-creds': HTTPError (HTTP 401): Unable to authenticate you",
    )
    assert len(do.calls) == 1


def test_preflight_locked_account(do):
    do.replace(
        responses.GET,
        f"{API}/account/",
        json={"account": {"status": "locked", "status_message": "billing"}},
    )
    assert cloud.preflight(request(), CREDS) == [
        PreflightFailure("AccountLocked", "the DigitalOcean account is locked: billing"),
    ]


def test_preflight_region_not_found_and_unavailable(do):
    assert cloud.preflight(request(region="mars1"), CREDS) == [
        PreflightFailure(
            "RegionNotFound", "DigitalOcean region 'mars1' does not exist; regions: ams3, nyc3"
        ),
    ]
    assert cloud.preflight(request(region="sfo1"), CREDS) == [
        PreflightFailure(
            "RegionNotAvailable",
            "DigitalOcean region sfo1 does not take new droplets; available: ams3, nyc3",
        ),
    ]


def test_preflight_size_not_offered(do):
    req = request(
        control_plane_machine_type="g-8vcpu-32gb", workers=(WorkerPool("big", 1, "s-64vcpu-1tb"),)
    )
    assert cloud.preflight(req, CREDS) == [
        PreflightFailure(
            "MachineTypeNotOffered",
            (
                "droplet size g-8vcpu-32gb (control plane) is not offered in nyc3; offered: s-2vcpu-4gb, s-4vcpu-8gb"
            ),
        ),
        PreflightFailure(
            "MachineTypeNotOffered",
            (
                "droplet size s-64vcpu-1tb (pool big) does not exist; sizes in nyc3: s-2vcpu-4gb, s-4vcpu-8gb"
            ),
        ),
    ]


def test_preflight_checks_default_size(do):
    req = request(region="ams3", variables={}, workers=(WorkerPool("a", 1),))
    assert cloud.preflight(req, CREDS) == []
    do.replace(
        responses.GET,
        f"{API}/sizes/",
        json={"sizes": [{"slug": "s-1vcpu-1gb", "regions": ["ams3"]}], "links": {}},
    )
    [failure] = cloud.preflight(req, CREDS)
    assert failure.message == (
        "droplet size s-2vcpu-4gb (control plane, pool a) does not exist; sizes in ams3: s-1vcpu-1gb"
    )


def test_preflight_image_not_found_or_elsewhere(do):
    req = request(
        region="ams3",
        control_plane_machine_type="s-2vcpu-4gb",
        workers=(),
        variables={"DO_CONTROL_PLANE_MACHINE_IMAGE": "nope", "DO_NODE_MACHINE_IMAGE": "123456"},
    )
    assert cloud.preflight(req, CREDS) == [
        PreflightFailure(
            "ImageNotFound", "image nope (DO_CONTROL_PLANE_MACHINE_IMAGE) does not exist"
        ),
        PreflightFailure(
            "ImageNotFound",
            "image 123456 (DO_NODE_MACHINE_IMAGE) is not available in ams3; it is in: nyc3",
        ),
    ]


def test_preflight_throttled_then_ok(do):
    do.replace(
        responses.GET,
        f"{API}/regions/",
        status=429,
        json={"id": "too_many_requests", "message": "API Rate limit exceeded."},
    )
    do.add(
        responses.GET,
        f"{API}/regions/",
        json={"regions": [{"slug": "nyc3", "available": True}], "links": {}},
    )
    assert cloud.preflight(request(variables={}), CREDS) == []
    assert [c.response.status_code for c in do.calls if "/regions/" in c.request.url] == [429, 200]


# --- cloud health ----------------------------------------------------------------------------


def health_fake(do, droplets: list[dict], balancers: list[dict]):
    do.get(f"{API}/droplets/", json={"droplets": droplets, "links": {}})
    do.get(f"{API}/load_balancers", json={"load_balancers": balancers, "links": {}})


def test_health_healthy(do):
    health_fake(
        do, [droplet("cp-0"), droplet("md-0")], [balancer(), balancer("other-apiserver", "errored")]
    )
    health = cloud.cloud_health(request(), CREDS)
    assert (health.state, health.message) == ("Healthy", "2 droplets active, load balancer active")
    assert health.details == {"droplets.active": "2", "loadBalancer": "active"}
    droplet_call = next(c for c in do.calls if "/droplets/" in c.request.url)
    assert "tag_name=sigs-k8s-io%3Acapdo%3Aprod-1" in droplet_call.request.url


def test_health_degraded(do):
    health_fake(do, [droplet("cp-0"), droplet("md-0", "off")], [balancer(status="errored")])
    health = cloud.cloud_health(request(), CREDS)
    assert (health.state, health.message) == (
        "Degraded",
        "droplet md-0 is off; load balancer prod-1-apiserver is errored",
    )


def test_health_missing_load_balancer(do):
    health_fake(do, [droplet("cp-0")], [])
    health = cloud.cloud_health(request(), CREDS)
    assert (health.state, health.message) == (
        "Degraded",
        "load balancer prod-1-apiserver does not exist",
    )


def test_health_provisioning(do):
    health_fake(do, [droplet("cp-0", "new")], [balancer(status="new")])
    health = cloud.cloud_health(request(), CREDS)
    assert (health.state, health.message) == (
        "Provisioning",
        "0 of 1 droplets active, load balancer new",
    )


def test_health_not_found(do):
    health_fake(do, [], [])
    health = cloud.cloud_health(request(), CREDS)
    assert (health.state, health.message) == (
        "NotFound",
        "no droplets tagged sigs-k8s-io:capdo:prod-1 and no load balancer prod-1-apiserver",
    )


def test_health_api_error(do):
    do.get(f"{API}/droplets/", status=503, body="<html>bad gateway</html>")
    health = cloud.cloud_health(request(), CREDS)
    assert (health.state, health.message) == (
        "Unknown",
        "DigitalOcean API call failed: HTTPError (HTTP 503)",
    )


# --- credential objects ----------------------------------------------------------------------


def test_capdo_secret():
    [secret] = cloud.credential_objects(request(), CREDS)
    assert (secret["metadata"]["name"], secret["metadata"]["namespace"]) == (
        "capdo-manager-bootstrap-credentials",
        "capdo-system",
    )
    assert base64.b64decode(secret["data"]["credentials"]).decode() == TOKEN
