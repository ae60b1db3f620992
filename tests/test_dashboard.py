"""The dashboard's logic without a cluster: the members table, the actions as server-side applies
(what the dashboard declares, read back from managedFields), the diff, the catalogue, a CRD's
parameters, and the guard in front of every request (Host, CSRF)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer

from mgmt.dashboard import edits, members, schema
from mgmt.dashboard.app import CSRF_COOKIE, KEY, make_app
from mgmt.dashboard.live import Watched


def member(cluster: str, phase: str = "Ready", provider: str = "aws", region: str = "eu-west-1",
           latency: int | None = 10, stack: str = "1/1") -> dict:
    api = {"reachable": latency is not None, **({"latencyMs": latency} if latency is not None else {})}
    return {"metadata": {"name": f"f.{cluster}"},
            "spec": {"fleet": "f", "cluster": cluster, "provider": provider, "region": region},
            "status": {"phase": phase, "api": api, "stack": stack, "kubernetesVersion": "v1.35.8"}}


ROWS = [members.row(m) for m in (
    member("b", latency=50), member("a", "Unreachable", latency=None, stack="0/1"),
    member("c", provider="gcp", region="us-east1", latency=5), member("d", "Degraded", latency=500, stack="0/2"))]


def query(**args) -> members.Query:
    return members.Query.parse(args)


def names(rows: list[dict]) -> list[str]:
    return [r["cluster"] for r in rows]


def test_rows_filter_sort_and_page():
    assert names(members.select(ROWS, query())) == ["a", "b", "c", "d"]
    assert names(members.select(ROWS, query(sort="latency"))) == ["c", "b", "d", "a"]  # unreachable last
    assert names(members.select(ROWS, query(sort="latency", order="desc"))) == ["d", "b", "c", "a"]
    assert names(members.select(ROWS, query(sort="phase"))) == ["b", "c", "d", "a"]
    assert names(members.select(ROWS, query(sort="stack"))) == ["a", "d", "b", "c"]
    assert names(members.select(ROWS, query(provider="gcp"))) == ["c"]
    assert names(members.select(ROWS, query(state="unwell"))) == ["a", "d"]
    assert names(members.select(ROWS, query(q="B"))) == ["b"]
    page = members.page(ROWS, query(page="2"), size=3)
    assert (names(page.rows), page.number, page.pages, page.matched, page.total) == (["d"], 2, 2, 4, 4)
    assert members.page(ROWS, query(page="99"), size=3).number == 2  # past the end: the last page
    assert members.page([], query()).pages == 1


def test_query_parse_is_forgiving_and_links_keep_it():
    q = query(page="x", sort="nope", q="  a ", order="desc", state="Ready")
    assert (q.page, q.sort, q.text, q.descending) == (1, "cluster", "a", True)
    assert q.params(page=3) == {"q": "a", "state": "Ready", "order": "desc", "page": "3"}
    assert query().params() == {}


def test_facets_and_state_counts():
    assert members.facets(ROWS) == {"provider": ["aws", "gcp"], "region": ["eu-west-1", "us-east1"],
                                    "state": ["Ready", "Degraded", "Unreachable"]}
    assert members.state_counts(ROWS) == {"Ready": 2, "Degraded": 1, "Unreachable": 1}
    assert ROWS[3]["stackDone"] == 0 and ROWS[3]["stackTotal"] == 2 and ROWS[3]["unwell"]


# -- actions -----------------------------------------------------------------------------------

def managed(manager: str, operation: str, spec_fields: dict) -> dict:
    return {"manager": manager, "operation": operation, "apiVersion": "fleet.drover.dev/v1alpha1",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": spec_fields}}


def key(name: str) -> str:
    return "k:" + json.dumps({"name": name}, separators=(",", ":"))


def fleet(extra_managed: list[dict] = ()) -> dict:
    return {"apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet",
            "metadata": {"name": "f", "namespace": "ns", "generation": 3, "managedFields": [
                managed("kubectl", "Apply", {"f:clusters": {key("c1"): {}},
                                             "f:stack": {"f:components": {key("base"): {}}}}),
                *extra_managed]},
            "spec": {"clusters": [{"name": "c1", "provider": "local", "kubernetesVersion": "v1.35.8",
                                   "workers": [{"name": "md-0", "replicas": 2}]}],
                     "stack": {"components": [{"manifests": "x", "name": "base"},
                                              {"helm": {"chart": "cert-manager"}, "name": "cm"}]}}}


DASHBOARD_OWNS_CM = [managed(edits.FIELD_MANAGER, "Apply", {"f:stack": {"f:components": {key("cm"): {}}}}),
                     managed(edits.FIELD_MANAGER, "Update", {"f:clusters": {key("c1"): {}}})]  # not its apply
CATALOGUE = {"ingress": {"namespace": "ingress", "helm": {"chart": "ingress-nginx", "version": "4.13.3"}}}


def test_owned_reads_only_the_dashboards_applies():
    assert edits.owned(fleet(DASHBOARD_OWNS_CM)) == edits.Owned(components=["cm"])
    assert edits.owned(fleet()) == edits.Owned()
    assert edits.owners(fleet(DASHBOARD_OWNS_CM), ("spec", "stack", "components"), "cm") == [edits.FIELD_MANAGER]


def test_add_component_restates_what_the_dashboard_declared():
    plan = edits.plan(fleet(DASHBOARD_OWNS_CM), "add-component", {"name": "ingress"}, CATALOGUE)
    assert plan.body == {"apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet",
                         "metadata": {"name": "f", "namespace": "ns"},
                         "spec": {"stack": {"components": [
                             {"helm": {"chart": "cert-manager"}, "name": "cm"},
                             {"name": "ingress", "namespace": "ingress",
                              "helm": {"chart": "ingress-nginx", "version": "4.13.3"}}]}}}
    assert [c["name"] for c in plan.after["stack"]["components"]] == ["base", "cm", "ingress"]
    diff = plan.diff()
    assert "+    - name: ingress\n" in diff and "\n-" not in diff.split("+++", 1)[1]


def test_add_refuses_what_is_there_or_unknown():
    with pytest.raises(edits.ActionError, match="'base' is already in Fleet 'f'"):
        edits.plan(fleet(), "add-component", {"name": "base"}, {"base": {"manifests": "y"}})
    with pytest.raises(edits.ActionError, match="no entry 'nope' in the catalogue"):
        edits.plan(fleet(), "add-component", {"name": "nope"}, CATALOGUE)
    with pytest.raises(edits.ActionError, match="unknown action"):
        edits.plan(fleet(), "drop-table", {}, {})


def test_remove_only_what_no_other_manager_declares():
    plan = edits.plan(fleet(DASHBOARD_OWNS_CM), "remove-component", {"name": "cm"}, {})
    assert plan.body["spec"] == {}  # the dashboard declares nothing more: SSA removes its entry
    assert "-    - name: cm\n" in plan.diff()
    with pytest.raises(edits.ActionError, match="declared by field manager kubectl: the dashboard's server-side"):
        edits.plan(fleet(DASHBOARD_OWNS_CM), "remove-component", {"name": "base"}, {})
    with pytest.raises(edits.ActionError, match="'gone' is not in Fleet"):
        edits.plan(fleet(), "remove-cluster", {"name": "gone"}, {})


def test_add_cluster_scale_and_pause():
    form = {"name": "eu-1", "target": "aws:aws-credentials", "kubernetesVersion": "v1.35.8", "region": "eu-west-1",
            "replicas": "3", "flavor": ""}
    plan = edits.plan(fleet(DASHBOARD_OWNS_CM), "add-cluster", form, {})
    assert plan.body["spec"]["clusters"] == [{
        "name": "eu-1", "provider": "aws", "kubernetesVersion": "v1.35.8", "region": "eu-west-1",
        "credentialsRef": {"name": "aws-credentials"}, "workers": [{"name": "md-0", "replicas": 3}]}]
    assert plan.body["spec"]["stack"]["components"][0]["name"] == "cm"  # still declared
    with pytest.raises(edits.ActionError, match="unknown provider 'openstack'"):
        edits.plan(fleet(), "add-cluster", {**form, "target": "openstack:x"}, {})
    local = edits.plan(fleet(), "add-cluster", {**form, "target": "local"}, {}).body["spec"]["clusters"][0]
    assert local["provider"] == "local" and "credentialsRef" not in local
    with pytest.raises(edits.ActionError, match="replicas must be a whole number"):
        edits.plan(fleet(), "add-cluster", {**form, "replicas": "many"}, {})

    scaled = edits.plan(fleet(), "scale", {"name": "c1", "pool": "md-0", "replicas": "5"}, {})
    assert scaled.body["spec"]["clusters"][0]["workers"] == [{"name": "md-0", "replicas": 5}]
    assert "replicas: 5" in scaled.diff() and "replicas: 2" in scaled.diff()
    with pytest.raises(edits.ActionError, match="no worker pool 'md-9'"):
        edits.plan(fleet(), "scale", {"name": "c1", "pool": "md-9", "replicas": "1"}, {})

    paused = edits.plan(fleet(), "pause", {}, {})
    assert paused.body["spec"] == {"rollout": {"paused": True}} and paused.after["rollout"] == {"paused": True}
    resumed = edits.plan({**fleet(), "metadata": {**fleet()["metadata"], "managedFields": [
        managed(edits.FIELD_MANAGER, "Apply", {"f:rollout": {"f:paused": {}}})]}}, "resume", {}, {})
    assert resumed.body["spec"] == {"rollout": {"paused": False}}


def test_catalogue_parsing_and_description():
    entries, problems = edits.parse_catalogue({"data": {
        "good": "namespace: x\nhelm: {chart: c, version: '1', repository: https://r.example}\n",
        "list": "- a\n", "broken": "a: [\n"}})
    assert list(entries) == ["good"]
    assert problems[0].startswith("broken: invalid YAML") and problems[1].startswith("list: not a component")
    assert edits.describe_entry(entries["good"]) == "helm chart c 1 from https://r.example"
    assert edits.describe_entry({"manifests": "x"}) == "inline manifests"
    assert edits.parse_catalogue(None) == ({}, [])


# -- CRD parameters ------------------------------------------------------------------------------

def test_crd_parameters_from_the_openapi_schema():
    crd = {"metadata": {"name": "widgets.x.dev"}, "spec": {
        "group": "x.dev", "scope": "Namespaced", "names": {"kind": "Widget"},
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
            "type": "object", "properties": {"spec": {"type": "object", "required": ["size"], "properties": {
                "size": {"type": "integer", "default": 3, "description": "How  big.\n"},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "port": {"x-kubernetes-int-or-string": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "rules": {"type": "array", "items": {"type": "object", "properties": {
                    "host": {"type": "string"}}}}}}}}}}]}}
    summary = schema.crd_summary(crd)
    assert (summary["kind"], summary["group"], summary["scope"]) == ("Widget", "x.dev", "Namespaced")
    rows = {p["path"]: p for p in summary["versions"][0]["parameters"]}
    assert list(rows) == ["labels", "mode", "port", "rules", "rules[].host", "size"]
    assert rows["size"] == {"path": "size", "type": "integer", "required": True, "description": "How big.",
                            "default": "3"}
    assert rows["mode"]["enum"] == '"a", "b"' and rows["port"]["type"] == "int or string"
    assert rows["labels"]["type"] == "map[string]string" and rows["rules"]["type"] == "[]object"
    assert schema.parameters(None) == []


def test_a_huge_schema_is_cut_short():
    props = {f"f{i:04d}": {"type": "string", "description": "x" * 1000} for i in range(500)}
    rows = schema.parameters({"properties": {"spec": {"properties": props}}})
    assert len(rows) == schema.MAX_PARAMETERS and len(rows[0]["description"]) == schema.DESCRIPTION


def test_watched_selectors():
    assert Watched("/p", labels="a=b", fields="metadata.name=x").query() == [
        ("labelSelector", "a=b"), ("fieldSelector", "metadata.name=x")]
    assert Watched("/p").query() == []


# -- the guard -----------------------------------------------------------------------------------

async def test_only_local_hosts_and_forms_with_the_csrf_token_get_through():
    app = make_app(kube=None, namespace="default", user_hint="test")  # the guard answers before any read
    token = app[KEY].csrf
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        rebinding = await client.get("/healthz", headers={"Host": "evil.example:80"})
        assert rebinding.status == 421
        assert (await client.get("/healthz")).status == 200
        healthz = await client.get("/healthz")
        assert "default-src 'self'" in healthz.headers["Content-Security-Policy"]
        no_token = await client.post("/fleets/ns/f/apply", data={"action": "pause"})
        assert no_token.status == 403 and "CSRF" in await no_token.text()
        client.session.cookie_jar.update_cookies({CSRF_COOKIE: "wrong"})
        wrong = await client.post("/fleets/ns/f/apply", data={"action": "pause", "csrf": token})
        assert wrong.status == 403  # the cookie must match too (double submit)
        assert (await client.get("/static/live.js")).status == 200


def test_the_chart_draws_the_controllers_record_as_steps_up_to_now():
    from mgmt.dashboard.history import chart

    assert chart({"status": {}}) is None
    changes = [{"time": "2026-12-03T06:00:00Z", "desired": 2, "provisioning": 2},
               {"time": "2026-12-03T06:01:00Z", "desired": 2, "ready": 1, "unreachable": 1},
               {"time": "2026-12-03T06:02:00Z", "desired": 2, "ready": 2}]
    now = datetime.fromisoformat("2026-12-03T06:04:00+00:00").timestamp()
    drawn = chart({"status": {"history": changes}}, now=now)
    assert [line["state"] for line in drawn["lines"]] == ["ready", "provisioning", "unreachable"]
    ready = drawn["lines"][0]["points"].split()
    # 0 until the first change, a step to 1 at 06:01, to 2 at 06:02, held to now
    middle = round((drawn["y_zero"] + drawn["y_top"]) / 2, 1)
    assert [float(p.split(",")[1]) for p in ready] == [drawn["y_zero"]] * 2 + [middle] * 2 + [drawn["y_top"]] * 2
    assert ready[-1] == f"{drawn['width'] - drawn['pad']:.1f},{drawn['y_top']}"
    assert drawn["minutes"] == 4.0 and drawn["top"] == 2 and drawn["samples"] == 3


def test_credential_refs_of_clusters_and_cluster_sets():
    fleets = [{"spec": {"clusters": [{"name": "a", "provider": "aws", "credentialsRef": {"name": "aws-creds"}},
                                     {"name": "l", "provider": "local"}],
                        "clusterSets": [{"name": "s", "template": {"provider": "gcp",
                                                                   "credentialsRef": {"name": "gcp-creds"}}}]}},
              {"spec": {}}]
    assert edits.credential_refs(fleets) == {("aws", "aws-creds"), ("gcp", "gcp-creds")}
