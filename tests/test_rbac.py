"""The shipped RBAC against what the code does: every kind a provider's template renders can be
applied, listed and deleted by the controller and nothing else is writable; the local provider
has its own ServiceAccount. (e2e/test_init.py asks the real apiserver with `kubectl auth can-i`.)"""

from pathlib import Path

import yaml

import providers
from mgmt.controller.objects import template_kinds

RBAC = list(yaml.safe_load_all((Path(__file__).parent.parent / "manifests/install/rbac.yaml").read_text()))
WRITE = {"create", "update", "patch", "delete", "deletecollection", "*"}


def role(name: str) -> list[dict]:
    return next(d for d in RBAC if d["kind"] == "ClusterRole" and d["metadata"]["name"] == name)["rules"]


def allowed(rules: list[dict], group: str, resource: str) -> set[str]:
    return {verb for r in rules if group in r["apiGroups"] and resource in r["resources"] for verb in r["verbs"]}


def plural(kind: str) -> str:
    lower = kind.lower()
    return lower[:-1] + "ies" if lower.endswith("y") else lower + ("es" if lower.endswith("s") else "s")


def controller_rules() -> list[dict]:
    return role("drover-controller") + role("drover-controller-secrets")


def test_every_template_kind_can_be_applied_listed_and_deleted():
    for name in providers.NAMES:
        for flavor in providers.get(name).flavors:
            for api_version, kind in template_kinds(name, flavor):
                group = api_version.rpartition("/")[0]
                verbs = allowed(controller_rules(), group, plural(kind))
                assert {"get", "list", "create", "patch", "delete"} <= verbs, (name, flavor, kind, verbs)


def test_no_wildcards_and_no_update_but_where_kopf_or_status_needs_it():
    for rule in controller_rules() + role("drover-local-provider"):
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"], rule
        if "update" in rule["verbs"]:
            assert all(r.endswith(("/status", "/finalizers")) for r in rule["resources"]), rule


def test_the_controller_writes_secrets_only_through_its_own_role():
    assert not allowed(role("drover-controller"), "", "secrets")
    assert allowed(role("drover-controller-secrets"), "", "secrets") == {"get", "list", "create", "patch", "delete"}
    assert not allowed(role("drover-controller"), "", "configmaps") & WRITE


def test_the_local_provider_has_its_own_service_account_and_the_controller_not_its_rules():
    binding = next(d for d in RBAC if d["kind"] == "ClusterRoleBinding" and d["metadata"]["name"] == "drover-local-provider")
    assert binding["subjects"][0]["name"] == "drover-local-provider"
    for resource in ("localclusters/status", "localmachines", "localmachines/status"):
        assert not allowed(role("drover-controller"), "infrastructure.drover.dev", resource)
    assert not allowed(role("drover-controller"), "controlplane.drover.dev", "localcontrolplanes/status")
    assert allowed(role("drover-local-provider"), "controlplane.drover.dev", "localcontrolplanes/status")
