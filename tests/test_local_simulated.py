"""The local provider's simulated mode, the parts that need no simulator (see
e2e/test_simulated_local.py for the whole path)."""

from __future__ import annotations

import kopf
import pytest
from click.testing import CliRunner

from providers.local import operator
from providers.local.api import LocalClusterSpec
from providers.local.cli import local_provider
from providers.local.simulated import Simulator


def test_virtual_cluster_address_endpoint_and_kubeconfig():
    simulator = Simulator("http://127.0.0.1:38123/")
    name = simulator.cluster_name("team-a", "c1.eu")
    assert name == "team-a.c1.eu"
    assert simulator.server(name) == "http://127.0.0.1:38123/clusters/team-a.c1.eu"
    assert simulator.endpoint() == {"host": "127.0.0.1", "port": 38123}
    config = simulator.kubeconfig(name)
    assert config["current-context"] == name
    assert config["clusters"] == [{"name": name, "cluster": {"server": simulator.server(name)}}]


def test_simulated_is_optional_and_bounded():
    assert LocalClusterSpec().wire() == {}
    assert LocalClusterSpec.model_validate({"simulated": {}}).wire() == {"simulated": {"nodes": 0}}
    with pytest.raises(ValueError, match="nodes"):
        LocalClusterSpec.model_validate({"simulated": {"nodes": -1}})


def test_simulated_cluster_without_simulator_is_a_clear_permanent_error():
    with pytest.raises(kopf.PermanentError, match="team-a/c1: LocalCluster spec.simulated needs .*--simulator-url"):
        operator.simulator_of(kopf.Memo(simulator=None), "team-a", "c1")


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "http://127.0.0.1:8080/clusters/x", "ftp://h:1"])
def test_cli_refuses_a_simulator_url_that_is_no_address(tmp_path, url):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("{}")
    result = CliRunner().invoke(local_provider, [f"--kubeconfig={kubeconfig}", f"--state-dir={tmp_path / 's'}",
                                                 f"--simulator-url={url}"])
    assert result.exit_code != 0
    assert "--simulator-url" in result.output and url in result.output
