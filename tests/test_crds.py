"""crds/ is generated from the models; a stale copy fails here."""

from pathlib import Path

import yaml

from mgmt.api import generate

CRDS = Path(__file__).parent.parent / "crds"


def test_crds_in_repo_are_generated_from_the_models():
    assert generate.main([str(CRDS), "--check"]) == 0, "crds/ is stale: run `make crds`"


def test_every_crd_is_structural_with_status_subresource():
    for name, text in generate.render_all().items():
        crd = yaml.safe_load(text)
        version = crd["spec"]["versions"][0]
        assert version["schema"]["openAPIV3Schema"]["type"] == "object", name
        if version["schema"]["openAPIV3Schema"]["properties"].get("status"):
            assert version["subresources"]["status"] == {}, name


def test_local_provider_crds_carry_the_contract_label():
    for name, text in generate.render_all().items():
        if "drover.dev_local" in name:
            assert yaml.safe_load(text)["metadata"]["labels"]["cluster.x-k8s.io/v1beta2"] == "v1alpha1"
