"""The bench's management plane: `ManagementPlane.up()` unchanged, except that its API server's
audit log records every request of the Drover controller (reads and watches too, not only
writes), so the bench can count the controller's API calls."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import yaml

from devtools.localkube import ApiServer
from devtools.localplane import CONTROLLER_USER, ManagementPlane

WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
POLICY = {
    "apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata", "users": [CONTROLLER_USER]},
              {"level": "Metadata", "verbs": list(WRITE_VERBS)},
              {"level": "None"}],
}


class CountingApiServer(ApiServer):
    def _argv(self) -> list[str]:
        argv = super()._argv()  # writes the usual writes-only policy, which is replaced here
        (self.state_dir / "audit-policy.yaml").write_text(yaml.safe_dump(POLICY))
        return argv


class BenchPlane(ManagementPlane):
    def apiserver(self, audit: bool = False) -> ApiServer:
        return CountingApiServer.ensure("drover-mgmt", self.state_dir / "apiserver", self.etcd.url, audit=True)


class Requests:
    """The controller's requests in the audit log, one event per request, from a mark onwards."""

    def __init__(self, path: Path):
        self.path = path

    def mark(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def since(self, mark: int, user: str = CONTROLLER_USER) -> list[dict]:
        with open(self.path, "rb") as log:
            log.seek(mark)
            events = [event for event in map(_event, log.read().splitlines()) if event]
        # A watch is counted when it starts (it may never complete), anything else when it completes.
        return [e for e in events if e.get("user", {}).get("username") == user
                and e.get("stage") == ("ResponseStarted" if e.get("verb") == "watch" else "ResponseComplete")]


def _event(line: bytes) -> dict | None:
    """One audit event; None for a line cut by a mark taken while the server was writing it."""
    try:
        return json.loads(line) if line.strip() else None
    except ValueError:
        return None


def writes(events: list[dict]) -> list[dict]:
    return [e for e in events if e.get("verb") in WRITE_VERBS]


def breakdown(events: list[dict]) -> Counter:
    """Requests by 'verb resource[/subresource]'."""
    def key(event: dict) -> str:
        ref = event.get("objectRef") or {}
        resource = ref.get("resource") or event.get("requestURI", "?").split("?")[0]
        return f"{event.get('verb')} {resource}" + (f"/{ref['subresource']}" if ref.get("subresource") else "")
    return Counter(key(e) for e in events)
