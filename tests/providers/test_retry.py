"""The shared retry policy: transient errors of every SDK are retried with jittered backoff,
bounded in attempts and time; permanent ones surface at once. Nothing sleeps for real."""

from __future__ import annotations

import logging
import types

import boto3
import botocore.exceptions as boto_exc
import google.api_core.exceptions as google_exc
import pytest
import requests
import tenacity
from azure.core import exceptions as azure_exc
from botocore.stub import Stubber

from providers import retry


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(retry, "sleep", slept.append)
    return slept


def boto_error(code: str, status: int) -> boto_exc.ClientError:
    return boto_exc.ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetCallerIdentity",
    )


def http_error(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.HTTPError(f"{status}", response=response)


def azure_error(status: int, cls=azure_exc.HttpResponseError) -> azure_exc.HttpResponseError:
    response = types.SimpleNamespace(
        status_code=status, reason="x", headers={}, text=lambda: "", request=None
    )
    return cls(message="x", response=response)


TRANSIENT = [
    boto_error("Throttling", 400),
    boto_error("ThrottlingException", 400),
    boto_error("RequestLimitExceeded", 503),
    boto_error("TooManyRequestsException", 429),
    boto_error("InternalError", 500),
    boto_error("Whatever", 502),
    boto_exc.EndpointConnectionError(endpoint_url="https://sts.amazonaws.com"),
    boto_exc.ReadTimeoutError(endpoint_url="https://sts.amazonaws.com"),
    boto_exc.ConnectTimeoutError(endpoint_url="https://sts.amazonaws.com"),
    google_exc.TooManyRequests("x"),
    google_exc.ResourceExhausted("x"),
    google_exc.ServiceUnavailable("x"),
    google_exc.InternalServerError("x"),
    google_exc.DeadlineExceeded("x"),
    google_exc.GatewayTimeout("x"),
    azure_error(429),
    azure_error(503),
    azure_exc.ServiceRequestError("x"),
    azure_exc.ServiceResponseError("x"),
    http_error(429),
    http_error(500),
    http_error(502),
    requests.Timeout(),
    requests.ConnectionError(),
]
PERMANENT = [
    boto_error("AccessDenied", 403),
    boto_error("InvalidClientTokenId", 403),
    boto_error("ValidationException", 400),
    boto_exc.NoCredentialsError(),
    google_exc.PermissionDenied("x"),
    google_exc.Forbidden("x"),
    google_exc.Unauthorized("x"),
    google_exc.NotFound("x"),
    google_exc.BadRequest("x"),
    azure_error(403),
    azure_error(404, azure_exc.ResourceNotFoundError),
    azure_exc.ClientAuthenticationError("x"),
    http_error(401),
    http_error(403),
    http_error(404),
    ValueError("x"),
]


@pytest.mark.parametrize("exc", TRANSIENT, ids=lambda e: retry.describe_error(e))
def test_transient(exc):
    assert retry.is_transient(exc)


@pytest.mark.parametrize("exc", PERMANENT, ids=lambda e: retry.describe_error(e))
def test_permanent(exc):
    assert not retry.is_transient(exc)


def sts_client() -> tuple:
    client = boto3.client(
        "sts", region_name="us-east-1", aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def test_throttled_aws_call_is_retried_then_succeeds(sleeps, caplog):
    client, stubber = sts_client()
    stubber.add_client_error("get_caller_identity", "Throttling", "Rate exceeded", 400)
    stubber.add_client_error("get_caller_identity", "Throttling", "Rate exceeded", 400)
    stubber.add_response(
        "get_caller_identity",
        {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/x", "UserId": "x"},
    )
    with stubber, caplog.at_level(logging.WARNING, logger="providers.retry"):
        assert retry.call(client.get_caller_identity)["Account"] == "123456789012"
        stubber.assert_no_pending_responses()
    assert len(sleeps) == 2  # three calls
    assert all(0 <= s <= retry.WAIT_MAX for s in sleeps)
    assert "get_caller_identity failed with Throttling (HTTP 400); attempt 1 of 5" in caplog.text


def test_access_denied_is_not_retried(sleeps):
    client, stubber = sts_client()
    stubber.add_client_error("get_caller_identity", "AccessDenied", "not allowed", 403)
    stubber.add_response("get_caller_identity", {"Account": "never reached"})
    with stubber, pytest.raises(boto_exc.ClientError, match="AccessDenied"):
        retry.call(client.get_caller_identity)
    assert sleeps == []
    with pytest.raises(AssertionError, match="1 responses remaining"):
        stubber.assert_no_pending_responses()  # the second answer was never asked for


@pytest.mark.parametrize(
    "transient, permanent",
    [
        (google_exc.TooManyRequests("slow down"), google_exc.PermissionDenied("no")),
        (azure_error(429), azure_error(403)),
        (http_error(429), http_error(401)),
    ],
)
def test_other_sdks_count_calls(sleeps, transient, permanent):
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise transient
        return "ok"

    assert retry.call(flaky) == "ok" and len(calls) == 3

    def denied():
        calls.append(1)
        raise permanent

    calls.clear()
    with pytest.raises(type(permanent)):
        retry.call(denied)
    assert len(calls) == 1


def test_attempts_are_bounded_and_the_original_error_surfaces(sleeps):
    calls = []

    def throttled():
        calls.append(1)
        raise boto_error("Throttling", 400)

    with pytest.raises(boto_exc.ClientError, match="Throttling"):
        retry.call(throttled)
    assert len(calls) == retry.ATTEMPTS and len(sleeps) == retry.ATTEMPTS - 1


def test_time_is_bounded(monkeypatch):
    now = [0.0]

    def fake_sleep(seconds):
        now[0] += seconds

    # tenacity reads its clock through its module's `time`; only tenacity sees this fake one
    monkeypatch.setattr(
        tenacity, "time", types.SimpleNamespace(monotonic=lambda: now[0], sleep=fake_sleep)
    )
    monkeypatch.setattr(retry, "sleep", fake_sleep)
    monkeypatch.setattr(retry, "ATTEMPTS", 1000)
    monkeypatch.setattr(retry, "MAX_DELAY", 10.0)
    calls = []

    def unavailable():
        calls.append(1)
        raise google_exc.ServiceUnavailable("down")

    with pytest.raises(google_exc.ServiceUnavailable):
        retry.call(unavailable)
    assert 1 < len(calls) < 1000
    assert now[0] < 10.0


def test_backoff_is_jittered_and_grows(monkeypatch):
    monkeypatch.setattr(retry, "WAIT_MAX", 1000.0)
    wait = retry.retrying().wait
    state = types.SimpleNamespace(attempt_number=1)
    first = {wait(state) for _ in range(50)}
    state.attempt_number = 6
    later = [wait(state) for _ in range(50)]
    assert len(first) > 1  # random, not a fixed schedule
    assert max(first) <= retry.WAIT_MULTIPLIER * 2 < max(later)


def test_call_list_retries_lazy_pages(sleeps):
    pages = iter([http_error(503)])

    def pager():
        def gen():
            error = next(pages, None)
            if error:
                raise error
            yield from (1, 2, 3)

        return gen()

    assert retry.call_list(pager) == [1, 2, 3]
    assert len(sleeps) == 1


def test_decorator(sleeps):
    calls = []

    @retry.cloud_retry
    def fetch():
        calls.append(1)
        if len(calls) == 1:
            raise requests.ConnectionError()
        return "ok"

    assert fetch() == "ok" and len(calls) == 2
