"""Which ConfigMaps and Secrets a Fleet may use as stack sources: those labelled
fleet.drover.dev/stack-source=true, never a cluster's kubeconfig or other credentials."""

import asyncio
import base64

import pytest

from mgmt.api.models import API_VERSION, SourceRef
from mgmt.stack.objects import SourceError
from mgmt.stack.sources import STACK_SOURCE_LABEL, MgmtSources

OPT_IN = {STACK_SOURCE_LABEL: "true"}
MANIFEST = base64.b64encode(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n").decode()


def secret(name: str, labels: dict, type_: str = "Opaque") -> dict:
    return {"kind": "Secret", "type": type_, "metadata": {"name": name, "labels": labels},
            "data": {"m.yaml": MANIFEST}}


OBJECTS = {
    ("ConfigMap", "labelled"): {"metadata": {"name": "labelled", "labels": OPT_IN}, "data": {"m.yaml": "a: 1"}},
    ("ConfigMap", "plain"): {"metadata": {"name": "plain"}, "data": {"m.yaml": "a: 1"}},
    ("ConfigMap", "false"): {"metadata": {"name": "false", "labels": {STACK_SOURCE_LABEL: "True"}}, "data": {}},
    ("Secret", "manifests"): secret("manifests", OPT_IN),
    ("Secret", "web-kubeconfig"): secret("web-kubeconfig", {**OPT_IN, "cluster.x-k8s.io/cluster-name": "web"},
                                         "cluster.x-k8s.io/secret"),
    ("Secret", "web-ca"): secret("web-ca", OPT_IN, "cluster.x-k8s.io/secret"),
    ("Secret", "labelled-as-cluster"): secret("labelled-as-cluster", {**OPT_IN, "cluster.x-k8s.io/cluster-name": "w"}),
    ("Secret", "sa-token"): secret("sa-token", OPT_IN, "kubernetes.io/service-account-token"),
    ("Secret", "aws-credentials"): secret("aws-credentials", OPT_IN),
}
FLEETS = [{"spec": {"clusters": [{"name": "a", "credentialsRef": {"name": "aws-credentials"}}, {"name": "b"}]}}]


class Mgmt:
    def __init__(self):
        self.lists = 0

    async def get(self, api_version, kind, name, namespace):
        return OBJECTS.get((kind, name))

    async def list(self, api_version, kind, namespace, labels=None):
        assert (api_version, kind, namespace) == (API_VERSION, "Fleet", "team-a")
        self.lists += 1
        return FLEETS


def contents(kind: str, name: str, mgmt: Mgmt | None = None):
    async def read():
        return await MgmtSources(mgmt or Mgmt(), "team-a").contents(SourceRef(kind=kind, name=name))
    return asyncio.run(read())


def test_labelled_sources_are_read():
    assert contents("ConfigMap", "labelled") == [("m.yaml", b"a: 1")]
    assert contents("Secret", "manifests")[0][0] == "m.yaml"


@pytest.mark.parametrize("name", ["plain", "false"])
def test_a_configmap_without_the_label_is_refused(name):
    with pytest.raises(SourceError, match=f"ConfigMap team-a/{name} is not a stack source: it needs the label "
                                          f"{STACK_SOURCE_LABEL}=true"):
        contents("ConfigMap", name)


@pytest.mark.parametrize("name, why", [
    ("web-kubeconfig", "holds a cluster's credentials"),
    ("web-ca", "holds a cluster's credentials"),
    ("labelled-as-cluster", "holds a cluster's credentials"),
    ("sa-token", "holds a cluster's credentials"),
    ("aws-credentials", "is a cluster's credentialsRef"),
])
def test_credentials_are_never_sources_even_when_labelled(name, why):
    with pytest.raises(SourceError, match=f"Secret team-a/{name} {why}") as refused:
        contents("Secret", name)
    assert MANIFEST not in str(refused.value)


def test_the_fleets_are_listed_once_per_sync():
    mgmt = Mgmt()

    async def read():
        sources = MgmtSources(mgmt, "team-a")
        for _ in range(3):
            await sources.contents(SourceRef(kind="Secret", name="manifests"))
        sources.close()
    asyncio.run(read())
    assert mgmt.lists == 1
