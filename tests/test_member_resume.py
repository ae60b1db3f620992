"""After a restart a member's facts are taken from its stored status, so that the status they
give is the stored one: nothing is rewritten before the member has been reconciled again (found
in CI: a resumed cloud member lost its PreflightPassed condition for one write)."""

from __future__ import annotations

import pytest

import providers
from mgmt.controller.status import MemberFacts, _material
from providers.base import PreflightFailure

PROBE = {"api": {"reachable": False, "message": "no kubeconfig yet"}, "nodes": {"ready": 0, "total": 0},
         "capi": {"phase": "Provisioning"}}


@pytest.mark.parametrize("facts", [
    MemberFacts("a", provider="aws", preflight="Passed", probe=PROBE),
    MemberFacts("b", provider="gcp", preflight="Skipped", probe=PROBE),
    MemberFacts("c", provider="aws", preflight="Failed", failure=PreflightFailure("InvalidCredentials", "no"),
                probe=PROBE),
    MemberFacts("d", provider="local", failure=PreflightFailure("ApplyFailed", "conflict"), probe=PROBE),
    MemberFacts("e", provider="packet", preflight="Skipped", retired=providers.get("packet").retired, probe=PROBE),
    MemberFacts("f", provider="local", applied_spec="0123456789abcdef", probe=PROBE),
])
def test_a_resumed_member_gives_the_status_it_had(facts):
    stored = facts.status(None, ["web"])
    member = {"spec": {"cluster": facts.cluster, "provider": facts.provider}, "status": stored}
    resumed = MemberFacts.resume(member)
    assert _material(resumed.status(stored, ["web"])) == _material(stored)
