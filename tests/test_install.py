"""`drover init`'s manifests: what it reads and how it fails when a file is missing."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from mgmt import bundled, crds, install
from mgmt.api.generate import all_kinds


def test_every_kind_and_install_file_is_read():
    objects = install.manifests("ns1", "example.com/drover:1")
    kinds = [o["kind"] for o in objects]
    assert kinds[0] == "Namespace" and kinds[-2:] == ["Deployment", "Service"]
    assert sorted(o["metadata"]["name"] for o in objects if o["kind"] == "CustomResourceDefinition") == \
        sorted(k.name for k in all_kinds())
    assert objects[-2]["spec"]["template"]["spec"]["containers"][0]["image"] == "example.com/drover:1"


def test_a_missing_crd_is_named_and_nothing_is_printed(tmp_path, monkeypatch):
    for path in crds.drover_crd_files():
        if "fleetmembers" not in path.name:
            shutil.copy(path, tmp_path)
    monkeypatch.setattr(crds, "DROVER_CRDS", tmp_path)
    result = CliRunner().invoke(install.init, ["--dry-run"])
    assert result.exit_code == 1 and result.stdout == ""
    assert f"missing from this installation: CRD fleetmembers.fleet.drover.dev (looked in {tmp_path})" \
        in result.stderr


def test_a_missing_manifest_is_named(tmp_path, monkeypatch):
    shutil.copytree(bundled.path("manifests"), tmp_path / "manifests")
    shutil.copytree(bundled.path("crds"), tmp_path / "crds")
    (tmp_path / "manifests" / "install" / "deployment.yaml").unlink()
    monkeypatch.setattr(bundled, "root", lambda: tmp_path)
    with pytest.raises(install.IncompleteInstallation,
                       match=f"missing from this installation: {tmp_path}/manifests/install/deployment.yaml"):
        install.manifests()
