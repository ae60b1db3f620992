"""Cloud credentials from a cluster's `credentialsRef` Secret, and the preflight that uses them.

Preflight answers are cached by what they depend on (the cluster's spec and the Secret's
resourceVersion), so a steady fleet does not call the clouds again and again.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from dataclasses import asdict

import providers
from mgmt.kube import Kube
from providers.base import ClusterRequest, Credentials, PreflightFailure, ProviderError

PREFLIGHT_TIMEOUT = 120.0


class CredentialsMissing(Exception):
    """The Secret a cluster names is absent or empty; the message names it, never its values."""


async def read(kube: Kube, namespace: str, secret_name: str) -> tuple[Credentials, str]:
    """The Secret's values and its resourceVersion."""
    secret = await kube.get("v1", "Secret", secret_name, namespace)
    if secret is None:
        raise CredentialsMissing(f"Secret {namespace}/{secret_name} (credentialsRef) does not exist")
    data = {k: base64.b64decode(v).decode(errors="replace") for k, v in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    if not data:
        raise CredentialsMissing(f"Secret {namespace}/{secret_name} (credentialsRef) is empty")
    return Credentials(secret_name, data), secret["metadata"]["resourceVersion"]


def _key(request: ClusterRequest, secret_version: str) -> str:
    fields = asdict(request)
    fields["labels"] = dict(request.labels)
    fields["variables"] = dict(request.variables)
    return hashlib.sha256(json.dumps([fields, secret_version], sort_keys=True, default=str).encode()).hexdigest()


class Preflight:
    """Runs provider preflights in threads (the SDKs are synchronous) and remembers the answers."""

    def __init__(self):
        self._answers: dict[tuple[str, str], tuple[str, list[PreflightFailure]]] = {}

    async def check(self, request: ClusterRequest, credentials: Credentials,
                    secret_version: str) -> list[PreflightFailure]:
        key = _key(request, secret_version)
        cached = self._answers.get((request.namespace, request.name))
        if cached and cached[0] == key:
            return cached[1]
        provider = providers.get(request.provider)
        try:
            failures = await asyncio.wait_for(asyncio.to_thread(provider.preflight, request, credentials),
                                              PREFLIGHT_TIMEOUT)
        except ProviderError as error:
            failures = [PreflightFailure("InvalidCredentials", str(error))]
        except TimeoutError:
            # Not cached: the next reconcile asks again.
            return [PreflightFailure("CloudAPITimeout", f"preflight took longer than {PREFLIGHT_TIMEOUT:.0f}s")]
        transient = any(f.reason == "CloudAPIError" for f in failures)
        if not transient:
            self._answers[(request.namespace, request.name)] = (key, failures)
        return failures

    def forget(self, namespace: str, cluster: str) -> None:
        self._answers.pop((namespace, cluster), None)
