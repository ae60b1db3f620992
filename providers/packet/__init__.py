"""Equinix Metal (Packet) through Cluster API Provider Packet (CAPP v0.9).

One flavor, `kubeadm`: a kubeadm control plane on bare-metal servers. The Fleet's region is the
Equinix Metal metro; PACKET_PROJECT_ID comes from the request's variables.
"""

from __future__ import annotations

from providers.base import Provider

from . import cloud

MACHINE_TYPE = "c3.small.x86"


class PacketProvider(Provider):
    name = "packet"
    flavors = ("kubeadm",)
    default_flavor = "kubeadm"
    retired = (
        "Equinix Metal (Packet) was shut down on 2026-06-30; Drover still renders and validates "
        "Packet clusters only so they can be migrated to another provider."
    )
    region_variable = "METRO"
    control_plane_machine_variable = "CONTROL_PLANE_NODE_TYPE"
    node_machine_variable = "WORKER_NODE_TYPE"
    default_machine_type = MACHINE_TYPE
    cloud = cloud


PROVIDER = PacketProvider()
