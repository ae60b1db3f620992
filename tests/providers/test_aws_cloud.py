"""AWS preflight, cloud health and CAPA identities against moto (and botocore's Stubber where
moto has no such API)."""

from __future__ import annotations

import base64
import socket
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count
from moto.server import ThreadedMotoServer

from providers import retry
from providers.aws import cloud
from providers.base import ClusterRequest, Credentials, ProviderError, WorkerPool

KEY_ID = "AKIAIOSFODNN7DROVER1"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYDROVERKEY1"
CREDS = Credentials("aws-creds", {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET})


def request(**overrides) -> ClusterRequest:
    fields = {
        "name": "prod-1",
        "namespace": "team-a",
        "provider": "aws",
        "flavor": "kubeadm",
        "kubernetes_version": "v1.31.2",
        "region": "eu-west-1",
        "workers": (WorkerPool("pool-a", 2, "m5.large"), WorkerPool("pool-b", 1)),
    }
    return ClusterRequest(**{**fields, **overrides})


@pytest.fixture(autouse=True)
def aws_env(monkeypatch, tmp_path):
    for var in (
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setattr(retry, "sleep", lambda seconds: None)


@pytest.fixture(scope="module")
def _moto():
    # One mock for the module: moto's EC2 backend takes a second to set up. Tests that create
    # resources use cluster names of their own.
    with mock_aws():
        yield


@pytest.fixture
def aws(_moto):
    yield


def stub_eks(monkeypatch, method: str, response: dict | None = None, error: str | None = None):
    """Answer one EKS operation with botocore's Stubber; everything else still goes to moto."""
    real = cloud._client

    def client(sess, service, region=None):
        made = real(sess, service, region)
        if service == "eks":
            stubber = Stubber(made)
            if error:
                stubber.add_client_error(method, service_error_code=error, http_status_code=404)
            else:
                stubber.add_response(method, response)
            stubber.activate()
        return made

    monkeypatch.setattr(cloud, "_client", client)


def versions(*minors: str) -> dict:
    return {
        "clusterVersions": [
            {"clusterVersion": m, "versionStatus": "STANDARD_SUPPORT"} for m in minors
        ]
        + [{"clusterVersion": "1.23", "versionStatus": "UNSUPPORTED"}]
    }


# --- credentials -----------------------------------------------------------------------------


def test_missing_secret_key_names_the_key_not_the_value():
    bad = Credentials("aws-creds", {"AWS_ACCESS_KEY_ID": KEY_ID})
    with pytest.raises(ProviderError, match="no AWS_SECRET_ACCESS_KEY") as err:
        cloud.parse_credentials(bad)
    assert KEY_ID not in str(err.value)


def test_no_usable_keys_lists_the_keys_present():
    with pytest.raises(
        ProviderError, match=r"needs AWS_ACCESS_KEY_ID.*or AWS_ROLE_ARN.*keys: token"
    ):
        cloud.parse_credentials(Credentials("aws-creds", {"token": "x"}))


def test_clusterawsadm_b64_profile_is_accepted():
    profile = f"[default]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\nregion = eu-west-1\n"
    creds = Credentials(
        "c", {"AWS_B64ENCODED_CREDENTIALS": base64.b64encode(profile.encode()).decode()}
    )
    parsed = cloud.parse_credentials(creds)
    assert (parsed.access_key_id, parsed.secret_access_key) == (KEY_ID, SECRET)
    assert KEY_ID not in repr(parsed) and SECRET not in repr(parsed)


def test_malformed_profile_error_does_not_quote_it():
    creds = Credentials("c", {"credentials": f"aws_secret_access_key = {SECRET}"})
    with pytest.raises(ProviderError, match="not an AWS credentials profile") as err:
        cloud.parse_credentials(creds)
    assert SECRET not in str(err.value) and err.value.__cause__ is None


# --- preflight -------------------------------------------------------------------------------


def test_preflight_passes_for_kubeadm(aws):
    assert cloud.preflight(request(), CREDS) == []


def test_preflight_passes_for_eks(aws, monkeypatch):
    stub_eks(monkeypatch, "describe_cluster_versions", versions("1.32", "1.31", "1.30"))
    assert cloud.preflight(request(flavor="eks"), CREDS) == []


def test_preflight_assumes_a_role(aws):
    creds = Credentials(
        "c", {**CREDS._data, "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/drover"}
    )
    assert cloud.preflight(request(), creds) == []


def test_preflight_without_credentials_secret():
    [failure] = cloud.preflight(request(), None)
    assert failure.reason == "InvalidCredentials" and "credentialsRef" in failure.message


def test_preflight_missing_key():
    [failure] = cloud.preflight(
        request(), Credentials("aws-creds", {"AWS_SECRET_ACCESS_KEY": SECRET})
    )
    assert failure.reason == "InvalidCredentials"
    assert (
        failure.message == "Secret 'aws-creds' has AWS_SECRET_ACCESS_KEY but no AWS_ACCESS_KEY_ID"
    )


@set_initial_no_auth_action_count(0)
def test_preflight_rejected_credentials(aws):
    [failure] = cloud.preflight(request(), CREDS)
    assert failure.reason == "InvalidCredentials"
    assert failure.message.startswith(
        "AWS rejected the credentials in Secret 'aws-creds': GetCallerIdentity: InvalidClientTokenId"
    )


def test_preflight_region_not_found(aws):
    [failure] = cloud.preflight(request(region="mars-north-1"), CREDS)
    assert failure.reason == "RegionNotFound"
    assert failure.message.startswith(
        "AWS region 'mars-north-1' does not exist; regions: af-south-1, "
    )
    assert "(+" in failure.message


def test_preflight_region_not_found_lists_its_area_first(aws):
    [failure] = cloud.preflight(request(region="us-nowhere-1"), CREDS)
    assert failure.reason == "RegionNotFound"
    assert failure.message.startswith(
        "AWS region 'us-nowhere-1' does not exist; regions in us-*: us-east-1, us-east-2, "
    )
    assert "eu-" not in failure.message


def test_preflight_region_not_enabled(aws):
    [failure] = cloud.preflight(request(region="ap-east-1"), CREDS)
    assert failure == cloud.PreflightFailure(
        "RegionNotEnabled", "AWS region ap-east-1 is not enabled for this account (it is opt-in)"
    )


def test_preflight_instance_type_not_offered(aws):
    req = request(
        control_plane_machine_type="m5.huge", workers=(WorkerPool("gpu", 1, "zz9.large"),)
    )
    failures = cloud.preflight(req, CREDS)
    assert [f.reason for f in failures] == ["MachineTypeNotOffered"] * 2
    assert failures[0].message.startswith(
        "instance type m5.huge (control plane) is not offered in eu-west-1; offered: m5.12xlarge, "
    )
    assert failures[1].message.startswith(
        "instance type zz9.large (pool gpu) is not offered in eu-west-1; offered: "
    )


def test_preflight_checks_default_instance_type(aws, monkeypatch):
    monkeypatch.setattr(cloud.defaults, "MACHINE_TYPE", "t9.nope")
    failures = cloud.preflight(request(workers=(WorkerPool("a", 1),)), CREDS)
    assert [f.message.split(" is ")[0] for f in failures] == [
        "instance type t9.nope (control plane, pool a)"
    ]


def test_preflight_eks_version_unsupported(aws, monkeypatch):
    stub_eks(monkeypatch, "describe_cluster_versions", versions("1.33", "1.32", "1.31"))
    [failure] = cloud.preflight(request(flavor="eks", kubernetes_version="v1.27.3"), CREDS)
    assert failure == cloud.PreflightFailure(
        "KubernetesVersionUnsupported",
        "EKS in eu-west-1 does not offer Kubernetes 1.27 (requested v1.27.3); offered: 1.33, 1.32, 1.31",
    )


def test_preflight_eks_without_version_api_skips_that_check(aws):
    # moto answers DescribeClusterVersions with 404 "Not yet implemented"
    assert cloud.preflight(request(flavor="eks", kubernetes_version="v1.27.3"), CREDS) == []


def test_preflight_eks_checks_worker_types_only(aws, monkeypatch):
    stub_eks(monkeypatch, "describe_cluster_versions", versions("1.31"))
    req = request(
        flavor="eks",
        control_plane_machine_type="not.a-type",
        workers=(WorkerPool("w", 1, "x9.big"),),
    )
    assert [f.message.split(" is ")[0] for f in cloud.preflight(req, CREDS)] == [
        "instance type x9.big (pool w)"
    ]


def test_preflight_permission_denied_on_a_later_call(aws, monkeypatch):
    real = cloud._client

    def client(sess, service, region=None):
        made = real(sess, service, region)
        if service == "ec2":
            stubber = Stubber(made)
            stubber.add_client_error(
                "describe_regions", "UnauthorizedOperation", "not authorized", 403
            )
            stubber.activate()
        return made

    monkeypatch.setattr(cloud, "_client", client)
    [failure] = cloud.preflight(request(), CREDS)
    assert failure.reason == "InsufficientPermissions"
    assert failure.message == (
        "AWS API call failed: DescribeRegions: UnauthorizedOperation (HTTP 403): not authorized"
    )


# --- cloud health ----------------------------------------------------------------------------


def admin(service: str, region="eu-west-1"):
    return boto3.client(
        service, region_name=region, aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET
    )


def make_eks(name: str, region="eu-west-1"):
    eks = admin("eks", region)
    eks.create_cluster(
        name=name,
        roleArn="arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig={"subnetIds": []},
        version="1.31",
    )
    eks.create_nodegroup(
        clusterName=name,
        nodegroupName="pool-a",
        subnets=["subnet-1"],
        nodeRole="arn:aws:iam::123456789012:role/node",
    )


def test_eks_health_healthy(aws):
    make_eks("eks-ok")
    health = cloud.cloud_health(request(name="eks-ok", flavor="eks"), CREDS)
    assert health.state == "Healthy"
    assert health.message == "EKS cluster eks-ok is ACTIVE"
    assert health.details == {
        "eks.status": "ACTIVE",
        "eks.version": "1.31",
        "nodegroup.pool-a": "ACTIVE",
    }


def test_eks_health_not_found(aws):
    health = cloud.cloud_health(request(name="eks-gone", flavor="eks"), CREDS)
    assert (health.state, health.message) == (
        "NotFound",
        "EKS cluster eks-gone does not exist in eu-west-1",
    )


def test_eks_health_degraded_nodegroup(monkeypatch):
    real = cloud._client
    now = datetime(2026, 1, 1, tzinfo=UTC)

    def client(sess, service, region=None):
        made = real(sess, service, region)
        stubber = Stubber(made)
        stubber.add_response(
            "describe_cluster",
            {
                "cluster": {
                    "name": "prod-1",
                    "status": "ACTIVE",
                    "version": "1.31",
                    "createdAt": now,
                    "health": {"issues": []},
                }
            },
        )
        stubber.add_response("list_nodegroups", {"nodegroups": ["pool-a"]})
        stubber.add_response(
            "describe_nodegroup",
            {
                "nodegroup": {
                    "nodegroupName": "pool-a",
                    "status": "DEGRADED",
                    "health": {
                        "issues": [
                            {
                                "code": "AsgInstanceLaunchFailures",
                                "message": "Could not launch On-Demand Instances",
                            },
                        ]
                    },
                }
            },
        )
        stubber.activate()
        return made

    monkeypatch.setattr(cloud, "_client", client)
    health = cloud.cloud_health(request(flavor="eks"), CREDS)
    assert health.state == "Degraded"
    assert (
        health.message
        == "nodegroup pool-a: AsgInstanceLaunchFailures: Could not launch On-Demand Instances"
    )
    assert health.details["nodegroup.pool-a"] == "DEGRADED"


def run_instances(count: int, cluster: str, region="eu-west-1") -> list[str]:
    out = admin("ec2", region).run_instances(
        ImageId="ami-12c6146b",
        MinCount=count,
        MaxCount=count,
        InstanceType="t3.large",
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [
                    {
                        "Key": f"sigs.k8s.io/cluster-api-provider-aws/cluster/{cluster}",
                        "Value": "owned",
                    },
                ],
            }
        ],
    )
    return [i["InstanceId"] for i in out["Instances"]]


def test_kubeadm_health_healthy_and_ignores_other_clusters(aws):
    run_instances(3, cluster="vm-ok")
    run_instances(1, cluster="vm-other")
    health = cloud.cloud_health(request(name="vm-ok"), CREDS)
    assert (health.state, health.message) == ("Healthy", "3 instances running")
    assert health.details == {"instances.running": "3"}


def test_kubeadm_health_degraded_when_an_instance_is_stopped(aws):
    ids = run_instances(2, cluster="vm-stopped")
    admin("ec2").stop_instances(InstanceIds=[ids[0]])
    health = cloud.cloud_health(request(name="vm-stopped"), CREDS)
    assert health.state == "Degraded"
    assert health.message.startswith(f"1 instance(s) stopped or stopping: {ids[0]}")


def test_kubeadm_health_not_found(aws):
    health = cloud.cloud_health(request(name="vm-none"), CREDS)
    assert health.state == "NotFound"
    assert health.message == (
        "no EC2 instances tagged sigs.k8s.io/cluster-api-provider-aws/cluster/vm-none=owned in eu-west-1"
    )


@set_initial_no_auth_action_count(0)
def test_health_with_rejected_credentials_is_unknown(aws):
    health = cloud.cloud_health(request(), CREDS)
    assert health.state == "Unknown"
    assert health.message.startswith(
        "AWS API call failed: DescribeInstances: AuthFailure (HTTP 401)"
    )


# --- credential objects ----------------------------------------------------------------------


def test_static_identity_objects():
    creds = Credentials("c", {**CREDS._data, "AWS_SESSION_TOKEN": "session-token-value"})
    secret, identity = cloud.credential_objects(request(), creds)
    assert secret["metadata"] == {
        "name": "drover-team-a-prod-1",
        "namespace": "capa-system",
        "labels": secret["metadata"]["labels"],
    }
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == {
        "AccessKeyID": KEY_ID,
        "SecretAccessKey": SECRET,
        "SessionToken": "session-token-value",
    }
    assert identity["kind"] == "AWSClusterStaticIdentity"
    assert identity["apiVersion"] == "infrastructure.cluster.x-k8s.io/v1beta2"
    assert identity["spec"] == {
        "secretRef": "drover-team-a-prod-1",
        "allowedNamespaces": {"list": ["team-a"]},
    }
    assert "namespace" not in identity["metadata"]
    assert cloud.identity_ref(request(), creds) == {
        "kind": "AWSClusterStaticIdentity",
        "name": "drover-team-a-prod-1",
    }


def test_role_identity_objects_chain_to_the_static_keys():
    creds = Credentials(
        "c", {**CREDS._data, "AWS_ROLE_ARN": "arn:aws:iam::1:role/capa", "AWS_EXTERNAL_ID": "ext-1"}
    )
    secret, static, role = cloud.credential_objects(request(), creds)
    assert static["metadata"]["name"] == secret["metadata"]["name"] == "drover-team-a-prod-1-source"
    assert (
        role["kind"] == "AWSClusterRoleIdentity"
        and role["metadata"]["name"] == "drover-team-a-prod-1"
    )
    assert role["spec"] == {
        "roleARN": "arn:aws:iam::1:role/capa",
        "sessionName": "drover-prod-1",
        "externalID": "ext-1",
        "allowedNamespaces": {"list": ["team-a"]},
        "sourceIdentityRef": {
            "kind": "AWSClusterStaticIdentity",
            "name": "drover-team-a-prod-1-source",
        },
    }
    assert cloud.identity_ref(request(), creds)["kind"] == "AWSClusterRoleIdentity"


def test_role_only_identity_uses_the_controller_identity():
    [role] = cloud.credential_objects(
        request(), Credentials("c", {"AWS_ROLE_ARN": "arn:aws:iam::1:role/capa"})
    )
    assert role["kind"] == "AWSClusterRoleIdentity" and "sourceIdentityRef" not in role["spec"]


# --- AWS_ENDPOINT_URL (what the e2e test relies on) ------------------------------------------


@pytest.fixture
def moto_server(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_calls_go_to_aws_endpoint_url(moto_server):
    # mock_aws is not active: only the server can answer, and only it has this cluster.
    sess = boto3.Session(
        aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET, region_name="eu-west-1"
    )
    sess.client("eks").create_cluster(
        name="prod-1",
        roleArn="arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig={"subnetIds": []},
        version="1.31",
    )
    assert cloud.preflight(request(flavor="eks"), CREDS) == []
    health = cloud.cloud_health(request(flavor="eks"), CREDS)
    assert (health.state, health.details["eks.status"]) == ("Healthy", "ACTIVE")
