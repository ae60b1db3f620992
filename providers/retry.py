"""The one retry policy for every cloud SDK call.

Jittered exponential backoff (tenacity's `wait_random_exponential`), bounded both in attempts and
in time, and only for errors that say "try again": throttling, timeouts, connection failures and
5xx answers. Anything else (bad credentials, access denied, not found, validation) is raised at
once. The SDKs' own retry loops are switched off where they are built (`botocore` max attempts 1,
`retry_total=0` for Azure, `retry=None` for Google), so this policy is the only one.

Tests shorten the policy by patching the module globals (`ATTEMPTS`, `MAX_DELAY`, `WAIT_MAX`,
`sleep`); they are read on every call.

The same module holds what the cloud modules share about saying things safely: short error
descriptions for logs and status, and the log filter that keeps secrets out of SDK debug logs.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import botocore.exceptions as boto_exc
import google.api_core.exceptions as google_exc
import google.auth.exceptions as google_auth_exc
import requests
import tenacity
from azure.core import exceptions as azure_exc

log = logging.getLogger(__name__)

T = TypeVar("T")

ATTEMPTS = 5
#: No new attempt starts once this many seconds have passed since the first one.
MAX_DELAY = 30.0
WAIT_MULTIPLIER = 0.5
WAIT_MAX = 8.0
#: Replaced by tests so that backoff never sleeps for real.
sleep: Callable[[float], None] = time.sleep

AWS_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
        "BandwidthLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServerException",
    }
)
_BOTO_NETWORK = (
    boto_exc.EndpointConnectionError,
    boto_exc.ConnectTimeoutError,
    boto_exc.ReadTimeoutError,
    boto_exc.ConnectionClosedError,
)
_GOOGLE_TRANSIENT = (
    google_exc.TooManyRequests,
    google_exc.ServiceUnavailable,
    google_exc.InternalServerError,
    google_exc.DeadlineExceeded,
    google_exc.GatewayTimeout,
    google_exc.BadGateway,
    google_auth_exc.TransportError,
)
_AZURE_NETWORK = (azure_exc.ServiceRequestError, azure_exc.ServiceResponseError)
_REQUESTS_NETWORK = (requests.Timeout, requests.ConnectionError)


def _transient_status(status: int | None) -> bool:
    return status is not None and (status == 429 or status >= 500)


def http_status(exc: BaseException) -> int | None:
    """The HTTP status an SDK error carries, if any."""
    if isinstance(exc, boto_exc.ClientError):
        return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if isinstance(exc, google_exc.GoogleAPICallError):
        return exc.code if isinstance(exc.code, int) else None
    if isinstance(exc, azure_exc.HttpResponseError):
        return exc.status_code
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return exc.response.status_code
    return None


def error_code(exc: BaseException) -> str:
    """A short, non-secret name for an SDK error: the cloud's error code or the class name."""
    if isinstance(exc, boto_exc.ClientError):
        return exc.response.get("Error", {}).get("Code") or type(exc).__name__
    error = getattr(exc, "error", None)  # azure HttpResponseError.error is an ODataV4Format
    return getattr(error, "code", None) or type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    """True for throttling, timeouts, connection failures and 5xx answers of any of our SDKs."""
    if isinstance(exc, boto_exc.ClientError):
        return error_code(exc) in AWS_TRANSIENT_CODES or _transient_status(http_status(exc))
    if isinstance(exc, (*_BOTO_NETWORK, *_GOOGLE_TRANSIENT, *_AZURE_NETWORK, *_REQUESTS_NETWORK)):
        return True
    if isinstance(exc, (azure_exc.HttpResponseError, requests.HTTPError)):
        return _transient_status(http_status(exc))
    return False


def describe_error(exc: BaseException) -> str:
    """What a log line or a status message may say about an error: its code and HTTP status."""
    status = http_status(exc)
    return f"{error_code(exc)} (HTTP {status})" if status else error_code(exc)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret value (of four characters or more) replaced by `[redacted]`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


def _log_retry(operation: str, state: tenacity.RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning(
        "%s failed with %s; attempt %d of %d, retrying in %.2fs",
        operation,
        describe_error(exc) if exc else "?",
        state.attempt_number,
        ATTEMPTS,
        state.next_action.sleep if state.next_action else 0.0,
    )


def retrying(operation: str = "cloud call") -> tenacity.Retrying:
    """A fresh `Retrying` with the shared policy (module globals are read now)."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_transient),
        wait=tenacity.wait_random_exponential(multiplier=WAIT_MULTIPLIER, max=WAIT_MAX),
        stop=tenacity.stop_after_attempt(ATTEMPTS) | tenacity.stop_before_delay(MAX_DELAY),
        sleep=lambda seconds: sleep(seconds),
        before_sleep=functools.partial(_log_retry, operation),
        reraise=True,
    )


def _name(fn: Callable) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call an SDK method under the shared policy."""
    return retrying(_name(fn))(fn, *args, **kwargs)


def call_list(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list:
    """Call a paging SDK method and read every page under the policy (pages fetch lazily)."""
    return retrying(_name(fn))(lambda: list(fn(*args, **kwargs)))


def cloud_retry(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorator form of `call`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return retrying(fn.__qualname__)(fn, *args, **kwargs)

    return wrapper


# --- secrets in SDK logs ---------------------------------------------------------------------

_HIDDEN: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "drover_hidden", default=()
)
# Credentials the SDKs derive and log at DEBUG: bearer tokens, the access key ID in SigV4's
# Authorization header, session tokens, AssumeRole's answer.
_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[\w.~+/=-]+"), r"\1[redacted]"),
    (re.compile(r"(Credential=)[^/\s,'\"]+"), r"\1[redacted]"),
    (
        re.compile(r"(?i)(x-amz-security-token['\"]?\s*[:=]\s*b?['\"]?)[^'\"\s,&}]+"),
        r"\1[redacted]",
    ),
    (re.compile(r"(<(?:SecretAccessKey|SessionToken|AccessKeyId)>)[^<]*"), r"\1[redacted]"),
]


@contextlib.contextmanager
def secrets_hidden(secrets: Iterable[str | None]) -> Iterator[None]:
    """While active (in this thread or task), `RedactingFilter` masks these values."""
    token = _HIDDEN.set(tuple(s for s in secrets if s and len(s) >= 4))
    try:
        yield
    finally:
        _HIDDEN.reset(token)


def _mask(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return redact(text, _HIDDEN.get())


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message and in the request headers google-auth logs as `extra`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        request = getattr(record, "httpRequest", None)
        if isinstance(request, dict) and isinstance(request.get("headers"), dict):
            headers = {
                k: "[redacted]" if k.lower() == "authorization" else v
                for k, v in request["headers"].items()
            }
            # a copy: the logged dict holds the headers of the request being sent
            record.httpRequest = {**request, "headers": headers}
        return True


def hide_secrets_in_logs(*loggers: str) -> None:
    """Install `RedactingFilter` on these loggers (a logger's filters see only its own records,
    so name the modules that log requests and responses)."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
