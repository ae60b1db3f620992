"""/metrics beyond localhost: TLS, a bearer token, and the management cluster's TokenReview and
SubjectAccessReview deciding (here a fake cluster; e2e/test_hostile_fleets.py asks the real one)."""

from __future__ import annotations

import asyncio
import ssl
import threading
import urllib.error
import urllib.request

import pytest

from mgmt import metrics

USERS = {"scraper-token": "system:serviceaccount:monitoring:prometheus", "stranger-token": "system:anonymous-ish"}


class FakeCluster:
    """Answers TokenReview for USERS and allows /metrics to the scraper only."""

    def __init__(self):
        self.reviews = 0

    async def create(self, obj: dict) -> dict:
        self.reviews += 1
        if obj["kind"] == "TokenReview":
            user = USERS.get(obj["spec"]["token"])
            return {"status": {"authenticated": bool(user), **({"user": {"username": user}} if user else {})}}
        spec = obj["spec"]
        assert spec["nonResourceAttributes"] == {"path": "/metrics", "verb": "get"}
        return {"status": {"allowed": spec["user"] == USERS["scraper-token"]}}


@pytest.fixture
def secure_server():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    cluster = FakeCluster()
    server = metrics.serve(0, "127.0.0.1", metrics.Reviewer(cluster, loop), metrics.self_signed_context())
    yield server, cluster
    server.shutdown()
    server.server_close()
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def scrape(port: int, token: str | None = None, tls: bool = True) -> int:
    request = urllib.request.Request(f"{'https' if tls else 'http'}://127.0.0.1:{port}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # a certificate made at start
    try:
        with urllib.request.urlopen(request, timeout=10, context=context if tls else None) as answer:
            assert b"drover_" in answer.read()
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_only_an_allowed_token_reads_metrics(secure_server):
    server, cluster = secure_server
    port = server.server_port
    assert scrape(port) == 401
    assert scrape(port, "garbage") == 403
    assert scrape(port, "stranger-token") == 403
    assert scrape(port, "scraper-token") == 200
    reviews = cluster.reviews
    assert scrape(port, "scraper-token") == 200 and cluster.reviews == reviews  # answer kept for a while


def test_plain_http_gets_no_answer(secure_server):
    server, _ = secure_server
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        scrape(server.server_port, "scraper-token", tls=False)


def test_localhost_stays_open_and_anything_else_is_secured():
    assert metrics.is_loopback("127.0.0.1") and metrics.is_loopback("::1") and metrics.is_loopback("localhost")
    assert not metrics.is_loopback("0.0.0.0") and not metrics.is_loopback("10.0.0.5")
    server = metrics.serve_for(0, "127.0.0.1", kube=None, loop=None)
    try:
        assert scrape(server.server_port, tls=False) == 200
    finally:
        server.shutdown()
        server.server_close()
