"""A Fleet's template variables are data: reserved ones cannot be set, a value cannot break out
of its scalar, and a rendered object must be in the Fleet's namespace and of a declared kind."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import providers
from mgmt import kubeyaml, templating
from mgmt.api.models import ClusterSpec
from mgmt.render import check_objects, check_values, cluster_request, declared_kinds, render_cluster
from providers.base import RESERVED_VARIABLES, ClusterRequest

HOSTILE = [
    'x"\n---\napiVersion: v1\nkind: Secret',  # closes the quote, adds a document
    "x\nkind: Secret",
    "a: b", "- x", "[a, b]", "{a: b}", "x #comment", "&anchor x", "!!binary eA==", "|\n  text",
    "x'y", 'x"y', "back\\slash", "tab\there", "x,y", "%TAG", "`cmd`", "$(id)", "${NAMESPACE}",
    " leading", "trailing ", "double  space", "x: ", "x:",
    "cl\u0430ster",        # Cyrillic a
    "x\u202ey",            # right-to-left override
    "x\u200by",            # zero-width space
    "x" * 1025,
]
PLAIN = ["", "us-east-1", "m5.large", "10.0.0.0/16", "Standard_D4s_v5", "3b:16:bf:e4", "https://vc.example:443/sdk",
         "ssh-ed25519 AAAAC3Nz+/== ops@example", "*/Resources", "VM Network", "projects/p/global/images/i-1"]


def spec(**fields) -> ClusterSpec:
    return ClusterSpec.model_validate({"name": "c1", "provider": "local", "kubernetesVersion": "v1.35.8",
                                       "workers": [{"name": "small", "replicas": 1}], **fields})


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_refused_by_the_schema_and_at_render(value):
    with pytest.raises(ValidationError):
        spec(variables={"POD_CIDR": value})
    with pytest.raises(templating.TemplateError, match="variable POD_CIDR is not plain text") as refused:
        check_values("cidr: ${POD_CIDR}", {"POD_CIDR": value})
    assert value not in str(refused.value) or not value


@pytest.mark.parametrize("value", PLAIN)
def test_plain_values_pass(value):
    spec(variables={"POD_CIDR": value})
    check_values("cidr: ${POD_CIDR}", {"POD_CIDR": value})


def test_an_unused_variable_is_not_checked():
    check_values("cidr: ${POD_CIDR}", {"OTHER": "x\ny"})


@pytest.mark.parametrize("name", RESERVED_VARIABLES)
def test_reserved_variables_are_refused_at_render(name):
    request = ClusterRequest(name="c1", namespace="team-a", provider="local", flavor="default",
                             kubernetes_version="v1.35.8", variables={name: "kube-system"}, fleet="f")
    with pytest.raises(templating.TemplateError, match=f"variables may not set {name}: Drover derives them"):
        render_cluster(request)


def test_the_schema_carries_the_reserved_rule():
    rules = ClusterSpec.model_json_schema(by_alias=True)["properties"]["variables"]["x-kubernetes-validations"]
    assert all(f"'{name}'" in rules[0]["rule"] for name in RESERVED_VARIABLES)


def shape(node):
    """The structure of a document with every scalar blanked: what a value must not change."""
    if isinstance(node, dict):
        return {k: shape(v) for k, v in node.items()}
    if isinstance(node, list):
        return [shape(v) for v in node]
    return None


CASES = [(name, flavor) for name in ("aws", "gcp", "azure", "digitalocean", "packet") for flavor in
         providers.get(name).flavors]


@pytest.mark.parametrize("name, flavor", CASES)
def test_every_allowed_character_in_every_variable_leaves_the_documents_shape_alone(name, flavor):
    """Each variable a template uses, set to a value with every character the pattern allows,
    renders to documents of the same shape as a plain value does: values land as data only."""
    provider = providers.get(name)
    text = provider.template(flavor)
    settable = [v for v in templating.list_variables(text) if v not in RESERVED_VARIABLES]
    base = {v: "plain" for v in settable}
    tricky = "a:b c*d(e)=f+g@h~i/j.k_l-m::n"
    plain = [shape(d) for d in kubeyaml.load_all(templating.render(text, {**base, "CLUSTER_NAME": "c",
                                                                           "NAMESPACE": "n"}))]
    for variable in settable:
        check_values(text, {**base, variable: tricky})
        odd = templating.render(text, {**base, variable: tricky, "CLUSTER_NAME": "c", "NAMESPACE": "n"})
        assert [shape(d) for d in kubeyaml.load_all(odd)] == plain, variable


def test_objects_outside_the_namespace_or_of_undeclared_kinds_fail_the_cluster():
    request = cluster_request(spec(), "team-a", "f")
    kinds = declared_kinds('apiVersion: v1\nkind: ConfigMap\n---\napiVersion: "cluster.x-k8s.io/v1beta2"\nkind: Cluster\n')
    assert kinds == {("v1", "ConfigMap"), ("cluster.x-k8s.io/v1beta2", "Cluster")}
    check_objects([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "team-a"}}],
                  request, kinds)
    with pytest.raises(templating.TemplateError, match=r"puts ConfigMap a in namespace 'kube-system', not the "
                                                       r"Fleet's \(team-a\)"):
        check_objects([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "kube-system"}}],
                      request, kinds)
    with pytest.raises(templating.TemplateError, match="holds Secret s .v1., a kind the provider's template does not"):
        check_objects([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "team-a"}}],
                      request, kinds)


def test_every_shipped_template_passes_its_own_checks():
    objects = render_cluster(cluster_request(spec(), "team-a", "f"))
    assert objects and {o["metadata"]["namespace"] for o in objects} == {"team-a"}
