"""The `local` provider: clusters whose control plane is a real kube-apiserver on 127.0.0.1 and
whose machines are kwok-kept Nodes (see `providers.local.operator`). Needs no cloud account."""

from __future__ import annotations

from providers.base import Provider


class LocalProvider(Provider):
    name = "local"
    flavors = ("default", "simulated")  # simulated: tests and benches only
    default_flavor = "default"
    needs_credentials = False


PROVIDER = LocalProvider()
