"""Cloud credentials from a cluster's `credentialsRef` Secret, and the cloud calls that use them.

Preflight answers are cached by what they depend on (the cluster's spec and the Secret's
resourceVersion), and a member's cloud health is read at most every CLOUD_POLL_SECONDS, so a steady
fleet does not call the clouds again and again. The SDKs are synchronous: their calls run on a
bounded executor of their own, so a slow cloud cannot take the threads the rest of the controller
uses (asyncio.to_thread's default executor).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

import providers
from mgmt.kube import Kube
from providers.base import CloudHealth, ClusterRequest, Credentials, PreflightFailure, ProviderError

PREFLIGHT_TIMEOUT = 120.0
CLOUD_WORKERS = 8
CLOUD_POLL_SECONDS = 180.0

_CLOUD_SDK = ThreadPoolExecutor(max_workers=CLOUD_WORKERS, thread_name_prefix="cloud-sdk")


async def in_cloud_thread(call: Callable, *args):
    """Run a synchronous cloud SDK call on the cloud executor."""
    return await asyncio.get_running_loop().run_in_executor(_CLOUD_SDK, functools.partial(call, *args))


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


def spec_key(request: ClusterRequest, secret_version: str) -> str:
    """A digest of everything a cluster's render, preflight and cloud view depend on."""
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
        key = spec_key(request, secret_version)
        cached = self._answers.get((request.namespace, request.name))
        if cached and cached[0] == key:
            return cached[1]
        provider = providers.get(request.provider)
        try:
            failures = await asyncio.wait_for(in_cloud_thread(provider.preflight, request, credentials),
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


class CloudHealthPoller:
    """Each member's view from its cloud, read again once `interval` has passed or its spec changed;
    in between, probes reuse the last answer. A failed read is not kept: the next probe tries again."""

    def __init__(self, interval: float = CLOUD_POLL_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.interval, self._clock = interval, clock
        self._last: dict[tuple[str, str], tuple[str, float, CloudHealth | None]] = {}

    async def health(self, kube: Kube, request: ClusterRequest, secret_name: str) -> CloudHealth | None:
        member, spec = (request.namespace, request.name), spec_key(request, secret_name)
        last = self._last.get(member)
        if last and last[0] == spec and self._clock() - last[1] < self.interval:
            return last[2]
        credentials, _ = await read(kube, request.namespace, secret_name)
        health = await in_cloud_thread(providers.get(request.provider).cloud_health, request, credentials)
        self._last[member] = (spec, self._clock(), health)
        return health

    def forget(self, namespace: str, cluster: str) -> None:
        self._last.pop((namespace, cluster), None)
