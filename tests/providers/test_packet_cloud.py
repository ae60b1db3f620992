"""Packet / Equinix Metal is retired: preflight refuses plainly, health says why it is unknown."""

from __future__ import annotations

import socket

from providers.base import ClusterRequest, Credentials
from providers.packet import cloud

REQUEST = ClusterRequest(
    name="edge-1",
    namespace="team-a",
    provider="packet",
    flavor="kubeadm",
    kubernetes_version="v1.31.2",
    region="am6",
)
CREDS = Credentials("packet-creds", {"PACKET_API_KEY": "packet-secret-token-1234"})


def no_network(*args, **kwargs):
    raise AssertionError("the Packet provider must not reach the network")


def test_preflight_says_the_service_was_shut_down(monkeypatch):
    monkeypatch.setattr(socket, "create_connection", no_network)
    [failure] = cloud.preflight(REQUEST, CREDS)
    assert failure.reason == "ServiceRetired"
    assert failure.message == (
        "cluster edge-1: Equinix Metal (Packet) was shut down on 2026-06-30: new clusters cannot be created "
        "there. Drover still renders and validates Packet clusters to help migrate them to another provider."
    )
    assert cloud.preflight(REQUEST, None) == [failure]


def test_health_is_unknown_with_the_reason(monkeypatch):
    monkeypatch.setattr(socket, "create_connection", no_network)
    health = cloud.cloud_health(REQUEST, CREDS)
    assert health.state == "Unknown"
    assert (
        health.message
        == "Equinix Metal (Packet) was shut down on 2026-06-30; there is no cloud to ask."
    )


def test_no_credential_objects():
    assert cloud.credential_objects(REQUEST, CREDS) == []
