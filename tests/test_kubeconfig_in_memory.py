"""A management kubeconfig's inline certificate, key and CA (the CLI's, the dashboard's, a
controller run outside a Pod) never reach a file on disk: kubernetes_asyncio's temporary files are
memfds of this process."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

import yaml

from mgmt import pki
from mgmt.kube import Kube

CA = pki.new_ca("mgmt-ca")
USER = pki.issue(CA, "someone", client=True)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def files_holding(needle: bytes, directory: str) -> list[str]:
    found = []
    for root, _, names in os.walk(directory):
        for name in names:
            try:
                with open(os.path.join(root, name), "rb") as file:
                    if needle in file.read():
                        found.append(name)
            except OSError:
                pass
    return found


async def test_inline_key_and_certificates_stay_in_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    tempfile.tempdir = None  # re-read TMPDIR
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "ctx",
              "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1",
                                                     "certificate-authority-data": b64(CA.cert_pem)}}],
              "users": [{"name": "u", "user": {"client-certificate-data": b64(USER.cert_pem),
                                               "client-key-data": b64(USER.key_pem)}}],
              "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}]}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    try:
        kube = await Kube.from_kubeconfig(str(path))
        try:
            settings = kube.api.configuration
            for file in (settings.key_file, settings.cert_file, settings.ssl_ca_cert):
                assert file.startswith("/proc/self/fd/"), file
            assert Path(settings.key_file).read_bytes() == USER.key_pem
        finally:
            await kube.close()
    finally:
        tempfile.tempdir = None
    assert files_holding(b"PRIVATE KEY", str(tmp_path / "tmp")) == []
