"""`drover init` as a user runs it: from a wheel built by `python -m build`, installed into a
fresh venv in a temp dir outside the checkout, against the session's management plane.

Fast and honest: the venv is made without pip, the wheel goes in with `pip --python ... --no-index
--no-deps`, and its dependencies are the ones this test's own venv already has, reached through a
single path line in a `.pth` file. Python adds that directory to sys.path but runs no `.pth` file
inside it, so the checkout's editable install (a finder hook in such a file) stays out of reach;
the test checks that `mgmt` is imported from the fresh venv.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from mgmt.api.generate import all_kinds

REPO = Path(__file__).resolve().parent.parent
NAMESPACE = "drover-wheel"


def run(*argv, cwd: Path, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} exited {proc.returncode}:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh venv outside the checkout with only the built wheel installed in it."""
    work = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "build", "--outdir", work / "dist", REPO, cwd=work)
    (wheel,) = (work / "dist").glob("drover-*.whl")
    venv = work / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work)
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", "--no-index",
        "--no-deps", wheel, cwd=work)
    purelib = Path(run(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                       cwd=work).stdout.strip())
    (purelib / "drover-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_the_wheel_is_what_runs(venv):
    where = run(venv / "bin" / "python", "-c", "import mgmt, providers; print(mgmt.__file__, providers.__file__)",
                cwd=venv.parent).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where
    assert run(venv / "bin" / "drover", "--version", cwd=venv.parent).stdout.strip().endswith("0.1.0")


def test_the_wheel_finds_helm_on_path_only(venv, tmp_path):
    """The build cache (which holds a helm on this machine) is never used by an installed Drover."""
    from devtools.toolchain import binary

    probe = [venv / "bin" / "python", "-c", "from mgmt.executables import helm; print(helm())"]
    env = {**os.environ, "PATH": str(tmp_path)}
    missing = subprocess.run(probe, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert missing.returncode == 1
    assert "helm is not on PATH: install helm 3, or set DROVER_HELM to its path" in missing.stderr
    (tmp_path / "helm").symlink_to(binary("helm"))
    found = subprocess.run(probe, env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == str(tmp_path / "helm")


def test_init_from_the_wheel(mgmt, kubectl, venv):
    try:
        out = run(venv / "bin" / "drover", "init", "--kubeconfig", mgmt.kubeconfig, "--namespace", NAMESPACE,
                  cwd=venv.parent).stdout.splitlines()
        # Every CRD the models define, and the Deployment, went through this init and exist now.
        crds = sorted(kind.name for kind in all_kinds())
        applied = sorted(line.split()[0].removeprefix("CustomResourceDefinition/") for line in out
                         if line.startswith("CustomResourceDefinition/"))
        assert applied == crds
        listed = kubectl.get_json("crd", *crds)["items"]
        assert sorted(c["metadata"]["name"] for c in listed) == crds
        assert f"Deployment/{NAMESPACE}/drover-controller created" in out
        deployment = kubectl.get_json("deployment", "drover-controller", "-n", NAMESPACE)
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "drover"
    finally:
        kubectl("delete", "clusterrole,clusterrolebinding", "-l", "app.kubernetes.io/part-of=drover",
                "--ignore-not-found")
        kubectl("delete", "namespace", NAMESPACE, "--wait=false", "--ignore-not-found")


def test_init_fails_loudly_when_files_are_missing(mgmt, kubectl, venv):
    data = next(venv.glob("lib/python*/site-packages/mgmt/_data"))
    crd = data / "crds" / "fleet.drover.dev_fleets.yaml"
    text = crd.read_text()
    crd.unlink()
    try:
        failed = run(venv / "bin" / "drover", "init", "--kubeconfig", mgmt.kubeconfig, "--namespace", "drover-broken",
                     cwd=venv.parent, check=False)
        assert failed.returncode == 1
        assert "missing from this installation: CRD fleets.fleet.drover.dev" in failed.stderr
        rbac = data / "manifests" / "install" / "rbac.yaml"
        rbac.rename(rbac.with_suffix(".moved"))
        failed = run(venv / "bin" / "drover", "init", "--dry-run", cwd=venv.parent, check=False)
        assert failed.returncode == 1 and f"missing from this installation: {rbac}" in failed.stderr
        rbac.with_suffix(".moved").rename(rbac)
    finally:
        crd.write_text(text)
    # Nothing was applied by the failed runs.
    assert kubectl.run("get", "namespace", "drover-broken", check=False).returncode != 0
