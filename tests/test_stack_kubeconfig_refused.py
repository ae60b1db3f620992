"""A member whose kubeconfig Secret is refused as unsafe says so in its stack status, with the
setting and the Secret, never as 'no kubeconfig yet' (issue 13)."""

import asyncio
import base64

import yaml

from mgmt.api.models import Component
from mgmt.stack.engine import MemberTarget, StackEngine
from mgmt.stack.member import MemberPlan
from mgmt.workload import WorkloadClients

EXEC = {"apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "x", "user": {"exec": {"command": "/bin/sh", "args": ["-c", "touch /tmp/pwned"]}}}],
        "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}]}


class Mgmt:
    """The management API as the engine's clients read it: one kubeconfig Secret."""

    async def get(self, api_version, kind, name, namespace=None):
        return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": "1"},
                "data": {"value": base64.b64encode(yaml.safe_dump(EXEC).encode()).decode()}}


def test_an_unsafe_kubeconfig_is_reported_as_refused_naming_the_setting():
    async def run():
        engine = StackEngine(Mgmt(), WorkloadClients(Mgmt()))
        plan = MemberPlan("f", [Component(name="c", manifests="x")], ["c"], {}, {}, {}, {}, {}, {})
        return await engine._member(MemberTarget("c1", "ns", "local", None, {}), ("ns", "f", "c1"), plan)
    result = asyncio.run(run())
    assert not result.reachable
    assert result.message.startswith("kubeconfig refused: Secret ns/c1-kubeconfig: the kubeconfig sets exec "), \
        result.message
    assert "touch" not in result.message and "/bin/sh" not in result.message
