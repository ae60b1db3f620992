"""Packet / Equinix Metal: the service was shut down on 2026-06-30.

Drover still renders and validates Packet clusters so that users can migrate off them, but
nothing can be created there any more, so preflight always fails and no SDK is called
(packet-python is deprecated and the API is gone).
"""

from __future__ import annotations

from providers.base import CloudHealth, ClusterRequest, Credentials, PreflightFailure

SHUTDOWN_DATE = "2026-06-30"
RETIRED = (
    f"Equinix Metal (Packet) was shut down on {SHUTDOWN_DATE}: new clusters cannot be created "
    "there. Drover still renders and validates Packet clusters to help migrate them to another provider."
)


def preflight(request: ClusterRequest, credentials: Credentials | None) -> list[PreflightFailure]:
    return [PreflightFailure("ServiceRetired", f"cluster {request.name}: {RETIRED}")]


def cloud_health(request: ClusterRequest, credentials: Credentials | None) -> CloudHealth:
    return CloudHealth(
        "Unknown",
        f"Equinix Metal (Packet) was shut down on {SHUTDOWN_DATE}; there is no cloud to ask.",
        {"service": "retired"},
    )


def credential_objects(request: ClusterRequest, credentials: Credentials) -> list[dict]:
    """Nothing: no cluster can be created on a retired service."""
    return []
