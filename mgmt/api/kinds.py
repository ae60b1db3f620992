"""The Fleet and FleetMember CRDs, as crdgen builds them."""

from mgmt.api.crdgen import Kind
from mgmt.api.models import (
    FLEET_COLUMNS,
    GROUP,
    MEMBER_COLUMNS,
    VERSION,
    FleetSpec,
    FleetStatus,
    MemberSpec,
    MemberStatus,
)

FLEET = Kind(
    GROUP, VERSION, "Fleet", "fleets", FleetSpec, FleetStatus, short_names=["fl"], categories=["drover"],
    columns=FLEET_COLUMNS,
    # Fleet names prefix member names and label values.
    max_name_length=40,
)
FLEET_MEMBER = Kind(
    GROUP, VERSION, "FleetMember", "fleetmembers", MemberSpec, MemberStatus, short_names=["fm"],
    categories=["drover"], columns=MEMBER_COLUMNS,
)
KINDS = [FLEET, FLEET_MEMBER]
