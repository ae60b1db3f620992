"""Differential test: Drover's manifest reader against the real kubectl, on the corpus and on the
real prometheus-operator bundle (its CRDs read at test time from the Go module).

kubectl reads each stream with `kubectl label --local -f - -o json <absent label>-`: the same
file reader and decoder as `kubectl apply -f`/`create -f`, but offline and for any kind, and it
prints the objects as JSON. Removing an absent label adds only an empty `metadata.labels`.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from devtools.toolchain import binary
from e2e.fixtures.bundles import prometheus_operator
from e2e.kubeyaml_corpus import ACCEPT, CASES, REFUSE
from mgmt.stack.objects import SourceError, parse_documents

KUBECTL = binary("kubectl")
INT64 = (-(1 << 63), (1 << 63) - 1)


def kubectl_reads(text: str) -> tuple[bool, list[dict] | str]:
    """(accepted, objects) or (refused, kubectl's message)."""
    proc = subprocess.run([KUBECTL, "--kubeconfig=/dev/null", "label", "--local", "-f", "-",
                           "-o", "json", "drover-oracle-absent-"],
                          check=False, input=text.encode(), capture_output=True, timeout=120)
    if proc.returncode != 0:
        return False, proc.stderr.decode(errors="replace").strip()
    return True, _json_stream(proc.stdout.decode())


def drover_reads(text: str) -> tuple[bool, list[dict] | str]:
    try:
        return True, parse_documents(text, "corpus")
    except SourceError as error:
        return False, str(error)


def _json_stream(text: str) -> list[dict]:
    decoder, values, at = json.JSONDecoder(), [], 0
    while (at := _skip(text, at)) < len(text):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
    return values


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def comparable(value, labelled: bool = True):
    """JSON as the API server would take it: numbers by value (an int64 stays an int), and
    without the empty label map that kubectl's label command adds."""
    if isinstance(value, dict):
        out = {k: comparable(v, False) for k, v in value.items()}
        if labelled and out.get("metadata", {}).get("labels") == {}:
            del out["metadata"]["labels"]
        return out
    if isinstance(value, list):
        return [comparable(v, labelled) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, int) and INT64[0] <= value <= INT64[1]:
            return value
        return float(value)
    return value


@pytest.mark.parametrize("case", sorted(CASES))
def test_reads_as_kubectl_does(case):
    verdict, text = CASES[case]
    accepted, by_kubectl = kubectl_reads(text)
    assert accepted == (verdict == ACCEPT), f"kubectl changed its mind on {case}: {by_kubectl}"
    ours_ok, by_drover = drover_reads(text)
    if verdict == REFUSE:
        assert not ours_ok, f"kubectl refuses {case} ({by_kubectl}), Drover read {by_drover}"
        assert "document" in by_drover or "line" in by_drover, by_drover
        return
    assert ours_ok, f"kubectl reads {case}, Drover refused: {by_drover}"
    assert [comparable(o) for o in by_drover] == [comparable(o) for o in by_kubectl]


def test_real_operator_bundle_reads_as_kubectl_does():
    """Every file of the prometheus-operator CRDs (the largest over 1 MiB, enums of `=`) and its
    Deployment and RBAC, from the Go module."""
    bundle = prometheus_operator()
    assert max(len(p.read_bytes()) for p in bundle.crd_files) > 1 << 20
    assert any("- =\n" in p.read_text() for p in bundle.crd_files)
    for path in bundle.crd_files + bundle.operator_files:
        text = path.read_text()
        accepted, by_kubectl = kubectl_reads(text)
        assert accepted, f"kubectl refuses {path.name}: {by_kubectl}"
        ours_ok, by_drover = drover_reads(text)
        assert ours_ok, f"Drover refuses {path.name}: {by_drover}"
        assert [comparable(o) for o in by_drover] == [comparable(o) for o in by_kubectl], path.name


def test_written_yaml_reads_back_as_the_same_strings():
    """What Drover writes for kubectl or helm (generated clusters, values files) keeps strings
    strings, on kubectl's reading, not only on PyYAML's."""
    from mgmt import kubeyaml
    tricky = ["y", "N", "yes", "0o17", "0x1F", "1e3", "08", "1_000", "12:30", "=", "<<", "~", "", ".5",
              "2001-12-14", "1.10", "+1", "-.inf", "0b101", "true", "null"]
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "written"},
           "data": {f"k{i}": s for i, s in enumerate(tricky)}}
    accepted, by_kubectl = kubectl_reads(kubeyaml.dump(doc))
    assert accepted, by_kubectl
    assert comparable(by_kubectl[0]) == doc
