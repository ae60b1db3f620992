"""A member's cloud view is read every few minutes, not every probe, on the cloud SDK executor."""

from __future__ import annotations

import base64
import threading

import pytest

import providers
from mgmt.controller import credentials as creds
from providers.base import CloudHealth, ClusterRequest


class SecretsOnly:
    """The one read the poller makes of the management API: the credentials Secret."""

    def __init__(self):
        self.reads = 0

    async def get(self, api_version, kind, name, namespace=None):
        self.reads += 1
        return {"data": {"key": base64.b64encode(b"value").decode()}, "metadata": {"resourceVersion": "7"}}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def cloud(monkeypatch):
    calls = []

    def cloud_health(request, credentials):
        calls.append((request.region, threading.current_thread().name, credentials["key"]))
        return CloudHealth("Healthy", f"{len(calls)} reads")

    monkeypatch.setattr(providers.get("aws").cloud, "cloud_health", cloud_health)
    return calls


def request(region="eu-west-1"):
    return ClusterRequest(name="one", namespace="team", provider="aws", flavor="default", region=region,
                          kubernetes_version="v1.30.0")


async def test_reads_again_only_after_the_interval_or_a_spec_change(cloud):
    clock, kube = Clock(), SecretsOnly()
    poller = creds.CloudHealthPoller(interval=180, clock=clock)
    assert (await poller.health(kube, request(), "aws-creds")).message == "1 reads"
    clock.now += 179
    assert (await poller.health(kube, request(), "aws-creds")).message == "1 reads"
    assert kube.reads == 1
    clock.now += 2
    assert (await poller.health(kube, request(), "aws-creds")).message == "2 reads"
    assert (await poller.health(kube, request("us-east-1"), "aws-creds")).message == "3 reads"
    assert [c[0] for c in cloud] == ["eu-west-1", "eu-west-1", "us-east-1"]
    assert all(name.startswith("cloud-sdk") and secret == "value" for _, name, secret in cloud)


async def test_a_failed_read_is_not_kept(cloud, monkeypatch):
    poller, kube = creds.CloudHealthPoller(clock=Clock()), SecretsOnly()
    monkeypatch.setattr(providers.get("aws").cloud, "cloud_health", lambda r, c: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        await poller.health(kube, request(), "aws-creds")
    monkeypatch.setattr(providers.get("aws").cloud, "cloud_health", lambda r, c: CloudHealth("Healthy", "back"))
    assert (await poller.health(kube, request(), "aws-creds")).message == "back"
    poller.forget("team", "one")
    assert not poller._last
