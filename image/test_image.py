"""The image `make image` wrote (dist/image, or $DROVER_IMAGE_DIR): its OCI layout read as the
image spec lays it out, unpacked by umoci, and drover run inside its root filesystem (chroot, as
the image's user, with the image's environment).

Needs root (chroot) and umoci; `make image` runs it after building. Not part of `make test`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
IMAGE_DIR = Path(os.environ.get("DROVER_IMAGE_DIR", REPO / "dist" / "image"))


def blob(layout: Path, descriptor: dict) -> dict:
    algorithm, digest = descriptor["digest"].split(":")
    return json.loads((layout / "blobs" / algorithm / digest).read_text())


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> tuple[dict, Path]:
    """(the image config, the unpacked root filesystem)."""
    archives = sorted(IMAGE_DIR.glob("drover-*.oci.tar"))
    assert len(archives) == 1, f"expected one image archive in {IMAGE_DIR}: run `make image`"
    work = tmp_path_factory.mktemp("image")
    layout = work / "oci"
    with tarfile.open(archives[0]) as archive:
        archive.extractall(layout, filter="tar")
    assert json.loads((layout / "oci-layout").read_text())["imageLayoutVersion"] == "1.0.0"
    (descriptor,) = json.loads((layout / "index.json").read_text())["manifests"]
    tag = descriptor["annotations"]["org.opencontainers.image.ref.name"]
    manifest = blob(layout, descriptor)
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    config = blob(layout, manifest["config"])
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:{tag}", str(work / "bundle")], check=True,
                   capture_output=True)
    return config, work / "bundle" / "rootfs"


def in_image(image, *args: str, entrypoint: bool = True) -> subprocess.CompletedProcess:
    """Run in the image's root filesystem as its user, with its environment and entrypoint."""
    config, rootfs = image
    settings = config["config"]
    env = dict(line.split("=", 1) for line in settings["Env"])
    argv = [*settings["Entrypoint"], *args] if entrypoint else list(args)
    return subprocess.run([shutil.which("chroot"), f"--userspec={settings['User']}", str(rootfs), *argv], env=env,
                          capture_output=True, text=True, timeout=120, check=True)


def test_config(image):
    config, _ = image
    settings = config["config"]
    assert settings["Entrypoint"] == ["drover"] and settings["Cmd"] == ["controller"]
    assert settings["User"] == "65532:65532" and settings["WorkingDir"] == "/var/lib/drover"
    assert "PATH=/opt/drover/bin:/usr/local/bin:/usr/bin:/bin" in settings["Env"]
    labels = settings["Labels"]
    assert labels["org.opencontainers.image.title"] == "drover"
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert labels["org.opencontainers.image.source"]
    assert config["os"] == "linux" and config["architecture"] == "amd64"


def test_runs_as_a_non_root_user(image):
    assert in_image(image, "id", "-u", entrypoint=False).stdout.strip() == "65532"
    passwd = (image[1] / "etc" / "passwd").read_text()
    assert "drover:x:65532:65532:" in passwd


def test_drover_version_and_controller_help(image):
    assert in_image(image, "--version").stdout.strip().endswith("version 0.1.0")
    helped = in_image(image, "controller", "--help").stdout
    assert "Run the Fleet controller" in helped and "--leader-elect" in helped


def test_helm_is_found_on_path(image):
    found = in_image(image, "python3", "-c", "from mgmt.executables import helm; print(helm())", entrypoint=False)
    assert found.stdout.strip() == "/usr/local/bin/helm"
    assert in_image(image, "helm", "version", "--short", entrypoint=False).stdout.startswith("v3.")


def test_init_has_its_manifests(image):
    printed = in_image(image, "init", "--dry-run", "--image", "drover:test").stdout
    kinds = [doc["kind"] for doc in yaml.safe_load_all(printed) if doc]
    assert kinds.count("CustomResourceDefinition") == 6 and "Deployment" in kinds
