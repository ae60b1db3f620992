"""The Fleet and FleetMember CRDs, as crdgen builds them."""

from mgmt.api.crdgen import Kind
from mgmt.api.models import (FLEET_COLUMNS, GROUP, MEMBER_COLUMNS, VERSION, FleetSpec, FleetStatus,
                             MemberSpec, MemberStatus, rule)

FLEET = Kind(
    GROUP, VERSION, "Fleet", "fleets", FleetSpec, FleetStatus, short_names=["fl"], categories=["drover"],
    columns=FLEET_COLUMNS,
    root_rules=[rule("self.metadata.name.size() <= 40", "Fleet names are at most 40 characters "
                     "(they prefix member names and label values)", ".metadata.name")],
)
FLEET_MEMBER = Kind(
    GROUP, VERSION, "FleetMember", "fleetmembers", MemberSpec, MemberStatus, short_names=["fm"],
    categories=["drover"], columns=MEMBER_COLUMNS,
)
KINDS = [FLEET, FLEET_MEMBER]
