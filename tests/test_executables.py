"""Where helm is found: configured, PATH, and the build cache only in a source checkout."""

from __future__ import annotations

import pytest

from mgmt import bundled, executables


def executable(directory, name="helm"):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.delenv("DROVER_HELM", raising=False)
    monkeypatch.setenv("DROVER_BIN_DIR", str(tmp_path / "cache"))
    return executable(tmp_path / "cache")


def test_installed_uses_path_never_the_cache(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(bundled, "installed", lambda: True)
    on_path = executable(tmp_path / "usr-bin")
    monkeypatch.setenv("PATH", str(tmp_path / "usr-bin"))
    assert executables.helm() == on_path
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(executables.MissingExecutable, match="helm is not on PATH: install helm 3, or set DROVER_HELM"):
        executables.helm()


def test_development_prefers_the_cache(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(bundled, "installed", lambda: False)
    executable(tmp_path / "usr-bin")
    monkeypatch.setenv("PATH", str(tmp_path / "usr-bin"))
    assert executables.helm() == cache


def test_configured_path_wins_and_is_checked(cache, tmp_path, monkeypatch):
    configured = executable(tmp_path / "opt", "helm3")
    monkeypatch.setenv("DROVER_HELM", configured)
    assert executables.helm() == configured
    monkeypatch.setenv("DROVER_HELM", str(tmp_path / "nowhere"))
    with pytest.raises(executables.MissingExecutable, match=f"DROVER_HELM={tmp_path}/nowhere is not an executable"):
        executables.helm()
