"""What a Fleet author may hand helm: the CRD patterns (read through pydantic, the same source
the CRD is generated from), the administrator's allow-lists, the argv, and the error kept."""

import asyncio
import os

import pytest
from pydantic import ValidationError

from mgmt.api.models import HelmSource
from mgmt.stack import helm as helm_module
from mgmt.stack.helm import Helm, HelmPolicy, _chart_args, error_line
from mgmt.stack.objects import SourceError

REPO = "https://charts.example.com/stable"


@pytest.mark.parametrize("fields", [
    {"chart": "--post-renderer=sh", "repository": REPO},
    {"chart": "-x", "repository": REPO},
    {"chart": "nginx --set a=b", "repository": REPO},
    {"chart": "../../etc", "repository": REPO},
    {"chart": "oci://host/--x"},
    {"chart": "oci://user:pw@host/chart"},
    {"chart": "nginx", "repository": "--repo=http://evil"},
    {"chart": "nginx", "repository": "https://user:secret@charts.example.com"},
    {"chart": "nginx", "repository": "https://charts.example.com/?token=abc"},
    {"chart": "nginx", "repository": "file:///etc"},
    {"chart": "nginx", "repository": REPO, "version": "--devel"},
    {"chart": "nginx", "repository": REPO, "version": "1.0\n--x"},
    {"path": "relative/chart"},
    {"path": "/srv/charts/../../etc"},
    {"path": "/srv/charts/.hidden"},
    {"path": "-/x"},
])
def test_flag_like_and_credential_bearing_fields_are_refused(fields):
    with pytest.raises(ValidationError):
        HelmSource.model_validate(fields)


@pytest.mark.parametrize("fields", [
    {"chart": "cert-manager", "repository": "https://charts.jetstack.io", "version": "v1.21.2"},
    {"chart": "demo", "repository": "http://127.0.0.1:8879/", "version": ">=1.0.0 <2.0.0"},
    {"chart": "oci://registry-1.docker.io/bitnamicharts/nginx", "version": "^18.1"},
    {"path": "/srv/charts/demo-0.1.0.tgz"},
])
def test_ordinary_sources_pass(fields):
    HelmSource.model_validate(fields)


def test_positionals_follow_a_double_dash_and_values_are_glued_to_their_flags(tmp_path):
    source = HelmSource(chart="demo", repository=REPO, version="1.0.0")
    assert _chart_args(source, tmp_path, None) == ([f"--repo={REPO}", "--version=1.0.0"], "demo")


def test_repository_allow_list_empty_means_any():
    HelmPolicy().check(HelmSource(chart="demo", repository="http://10.0.0.1/"))
    policy = HelmPolicy(repositories=(REPO, "oci://registry.example/charts"))
    policy.check(HelmSource(chart="demo", repository=REPO))
    policy.check(HelmSource(chart="demo", repository=REPO + "/sub/"))
    policy.check(HelmSource(chart="oci://registry.example/charts/nginx"))
    for source in (HelmSource(chart="demo", repository="https://charts.example.com/stable-evil"),
                   HelmSource(chart="demo", repository="http://169.254.169.254/latest"),
                   HelmSource(chart="oci://registry.example/other/nginx")):
        with pytest.raises(SourceError, match="allow-list"):
            policy.check(source)


def test_path_only_under_an_allowed_directory(tmp_path):
    allowed, outside = tmp_path / "charts", tmp_path / "private"
    allowed.mkdir()
    outside.mkdir()
    (allowed / "demo.tgz").write_bytes(b"x")
    os.symlink(outside, allowed / "escape")
    with pytest.raises(SourceError, match=r"helm.path .* \(--helm-chart-dir\)"):
        HelmPolicy().check(HelmSource(path=str(allowed / "demo.tgz")))  # none allowed by default
    policy = HelmPolicy(chart_dirs=(str(allowed),))
    policy.check(HelmSource(path=str(allowed / "demo.tgz")))
    for path in (outside, allowed / "escape" / "x", tmp_path / "charts-other"):
        with pytest.raises(SourceError, match="not under a chart directory"):
            policy.check(HelmSource(path=str(path)))


def test_a_refused_source_never_starts_helm(monkeypatch):
    def spawn(*args, **kwargs):
        raise AssertionError("helm was started")
    monkeypatch.setattr(helm_module.asyncio, "create_subprocess_exec", spawn)
    helm = Helm(policy=HelmPolicy(repositories=(REPO,)))
    with pytest.raises(SourceError, match="allow-list"):
        asyncio.run(helm.template("web", "web", HelmSource(chart="x", repository="http://127.0.0.1:9/"), {}))


def test_only_the_error_line_reaches_status_with_credentials_masked():
    stderr = ("walk.go:74: found symbolic link in path: /x\n"
              "WARNING: values: password=hunter2\n"
              'Error: looks like "https://bob:s3cret@charts.example.com/x?token=abc" is not a valid chart '
              "repository or cannot be reached: Get \"https://bob:s3cret@charts.example.com/x/index.yaml?token=abc\"\n")
    line = error_line(stderr)
    assert line.startswith("Error: looks like \"https://***@charts.example.com/x?…\"")
    assert "s3cret" not in line and "abc" not in line and "hunter2" not in line and "walk.go" not in line
    assert len(error_line("Error: " + "x" * 5000)) == 500
    assert error_line("no error prefix\nlast line\n") == "last line"
