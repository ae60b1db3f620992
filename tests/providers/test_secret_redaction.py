"""No credential value leaks: every preflight and health path of every cloud runs with all SDK
loggers at DEBUG, and neither the log records, the failures, the health, nor the credential
objects (outside the Secrets' data) hold a secret.

Identifiers that are not secret (account, tenant, client and subscription IDs, project, service
account e-mail, role ARN, AWS external ID) may appear; the scan covers the secret values: AWS
access key ID, secret key and session token; the service-account private key and its ID; the
Azure client secret; the DigitalOcean token. moto's own log records are left out: moto plays AWS.
"""

from __future__ import annotations

import base64
import json
import logging
import re

import pytest
import responses

# The fakes of the per-cloud tests (their directory is on sys.path: tests/providers is not a package).
import test_aws_cloud as aws_t
import test_azure_cloud as azure_t
import test_digitalocean_cloud as do_t
import test_gcp_cloud as gcp_t
from moto.core import set_initial_no_auth_action_count
from test_aws_cloud import _moto, aws_env, stub_eks  # noqa: F401  (fixtures)
from test_azure_cloud import azure as azure_fake  # noqa: F401
from test_digitalocean_cloud import do as do_fake  # noqa: F401
from test_gcp_cloud import creds as gcp_creds  # noqa: F401
from test_gcp_cloud import gcp as gcp_fake  # noqa: F401
from test_gcp_cloud import sa_json  # noqa: F401

from providers.aws import cloud as aws
from providers.azure import cloud as azure
from providers.base import Credentials, WorkerPool
from providers.digitalocean import cloud as do
from providers.gcp import cloud as gcp
from providers.packet import cloud as packet

LOGGERS = (
    "",
    "botocore",
    "boto3",
    "urllib3",
    "requests",
    "azure",
    "msal",
    "google",
    "google.auth",
    "google.api_core",
    "digitalocean",
    "providers",
)
SESSION_TOKEN = "FwoGZXIvYXdzEDROVERsessionTOKEN0123456789"
EXTERNAL_ID = "drover-external-id-0042"


@pytest.fixture
def debug_logs(caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def leaks(secrets, *texts) -> list[str]:
    """The secrets (and their base64 forms) found in any text."""
    found = []
    for secret in secrets:
        forms = {secret, base64.b64encode(secret.encode()).decode().rstrip("=")}
        if any(form in text for form in forms for text in texts):
            found.append(secret[:6] + "…")
    return found


def log_text(caplog) -> str:
    # the formatted messages and everything else a handler could print (args, extras, exc_info)
    records = [r for r in caplog.records if not r.name.startswith("moto")]
    return "\n".join(f"{r.name} {r.getMessage()} {vars(r)!r}" for r in records)


def without_secret_data(objects: list[dict]) -> str:
    return json.dumps(
        [
            {k: v for k, v in o.items() if not (o["kind"] == "Secret" and k == "data")}
            for o in objects
        ]
    )


def run_all(module, requests_and_creds) -> list[str]:
    texts = []
    for request, creds in requests_and_creds:
        texts += [repr(module.preflight(request, creds)), repr(module.cloud_health(request, creds))]
    return texts


# --- AWS -------------------------------------------------------------------------------------

AWS_SECRETS = (aws_t.KEY_ID, aws_t.SECRET, SESSION_TOKEN)
AWS_ALL = Credentials(
    "aws-creds",
    {
        "AWS_ACCESS_KEY_ID": aws_t.KEY_ID,
        "AWS_SECRET_ACCESS_KEY": aws_t.SECRET,
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
    },
)
AWS_ROLE = Credentials(
    "aws-creds",
    {
        **AWS_ALL._data,
        "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/capa",
        "AWS_EXTERNAL_ID": EXTERNAL_ID,
    },
)


def test_aws(debug_logs, aws_t_fakes):
    requests_and_creds = [
        (aws_t.request(), AWS_ALL),
        (aws_t.request(), AWS_ROLE),
        (aws_t.request(flavor="eks"), AWS_ROLE),
        (aws_t.request(control_plane_machine_type="m9.huge"), AWS_ROLE),
        (aws_t.request(), Credentials("aws-creds", {"AWS_ACCESS_KEY_ID": aws_t.KEY_ID})),
    ]
    texts = run_all(aws, requests_and_creds)
    texts.append(
        set_initial_no_auth_action_count(0)(
            lambda: run_all(aws, requests_and_creds[:2])
        )().__repr__()
    )
    texts.append(
        repr(aws.preflight(aws_t.request(region="mars-north-1"), AWS_ALL))
    )  # (moto has no such region to ask for health)
    objects = aws.credential_objects(aws_t.request(), AWS_ROLE)
    texts += [without_secret_data(objects), repr(aws.parse_credentials(AWS_ROLE)), repr(AWS_ROLE)]
    logs = log_text(debug_logs)
    assert "botocore" in logs and "AssumeRole" in logs  # the SDK did log at DEBUG
    assert leaks(AWS_SECRETS, logs, *texts) == []
    # the role session's own keys come back in AssumeRole's response body
    assert not re.search(r"<(SecretAccessKey|SessionToken|AccessKeyId)>(?!\[redacted\])", logs)
    assert base64.b64encode(aws_t.SECRET.encode()).decode() in json.dumps(
        objects
    )  # only in Secret data


@pytest.fixture
def aws_t_fakes(_moto):  # noqa: F811
    aws_t.make_eks("prod-1")
    yield


# --- GCP -------------------------------------------------------------------------------------


def gcp_secrets(sa: str) -> list[str]:
    info = json.loads(sa)
    pem_lines = [
        line for line in info["private_key"].splitlines() if line and "PRIVATE KEY" not in line
    ]
    return [sa, info["private_key_id"], *pem_lines]


def test_gcp(debug_logs, gcp_fake, gcp_creds, sa_json):  # noqa: F811
    gcp_fake.get(f"{gcp_t.CONTAINER}/europe-west1/clusters/prod-1", json=gcp_t.gke_cluster())
    gcp_fake.get(f"{gcp_t.COMPUTE}/aggregated/instances", json=gcp_t.instances("RUNNING"))
    texts = run_all(
        gcp,
        [
            (gcp_t.request(), gcp_creds),
            (gcp_t.request(flavor="gke"), gcp_creds),
            (gcp_t.request(flavor="gke", kubernetes_version="v1.2"), gcp_creds),
            (gcp_t.request(region="mars-north1"), gcp_creds),
        ],
    )
    gcp_fake.replace(
        responses.GET,
        f"{gcp_t.COMPUTE}/regions/europe-west1",
        status=401,
        json=gcp_t.error(401, "UNAUTHENTICATED", "bad"),
    )
    texts += run_all(gcp, [(gcp_t.request(), gcp_creds)])
    b64 = Credentials(
        "c", {"GCP_B64ENCODED_CREDENTIALS": base64.b64encode(sa_json.encode()).decode()}
    )
    texts += run_all(gcp, [(gcp_t.request(), b64)])
    objects = gcp.credential_objects(gcp_t.request(), gcp_creds)
    texts += [without_secret_data(objects), repr(gcp.parse_credentials(gcp_creds)), repr(gcp_creds)]
    assert leaks(gcp_secrets(sa_json), log_text(debug_logs), *texts) == []


# --- Azure -----------------------------------------------------------------------------------


def test_azure(debug_logs, azure_fake):  # noqa: F811
    azure_fake.get(azure_t.AKS, json=azure_t.managed_cluster())
    azure_fake.get(
        f"{azure_t.AKS}/agentPools", json=azure_t.agent_pools(("pool0", "Succeeded", "Running"))
    )
    creds = azure_t.CREDS
    texts = run_all(
        azure,
        [
            (azure_t.request(), creds),
            (azure_t.request(flavor="aks"), creds),
            (
                azure_t.request(
                    flavor="aks",
                    kubernetes_version="v1.2.3",
                    workers=(WorkerPool("x", 1, "Nope_1"),),
                ),
                creds,
            ),
        ],
    )
    azure_fake.replace(
        responses.POST,
        f"{azure_t.LOGIN}/{azure_t.TENANT}/oauth2/v2.0/token",
        status=401,
        json={
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret.",
        },
    )
    texts += run_all(azure, [(azure_t.request(), creds)])
    objects = azure.credential_objects(azure_t.request(), creds)
    texts += [without_secret_data(objects), repr(azure.parse_credentials(creds)), repr(creds)]
    logs = log_text(debug_logs)
    assert "azure.core.pipeline.policies.http_logging_policy" in logs
    assert leaks([azure_t.CLIENT_SECRET], logs, *texts) == []
    token_posts = [c for c in azure_fake.calls if c.request.url.endswith("/oauth2/v2.0/token")]
    assert (
        azure_t.CLIENT_SECRET in token_posts[0].request.body
    )  # it was really sent, just never logged


# --- DigitalOcean and Packet -----------------------------------------------------------------


def test_digitalocean(debug_logs, do_fake):  # noqa: F811
    do_t.health_fake(do_fake, [do_t.droplet("cp-0")], [do_t.balancer()])
    texts = run_all(do, [(do_t.request(), do_t.CREDS), (do_t.request(region="mars1"), do_t.CREDS)])
    do_fake.replace(
        responses.GET,
        f"{do_t.API}/account/",
        status=401,
        json={"id": "Unauthorized", "message": "no"},
    )
    texts += run_all(do, [(do_t.request(), do_t.CREDS)])
    objects = do.credential_objects(do_t.request(), do_t.CREDS)
    texts += [without_secret_data(objects), repr(do_t.CREDS)]
    logs = log_text(debug_logs)
    assert "api.digitalocean.com" in logs
    assert leaks([do_t.TOKEN], logs, *texts) == []


def test_packet(debug_logs):
    creds = Credentials("packet-creds", {"PACKET_API_KEY": "packet-secret-token-1234"})
    texts = run_all(packet, [(aws_t.request(provider="packet"), creds)])
    assert leaks(["packet-secret-token-1234"], log_text(debug_logs), *texts) == []
