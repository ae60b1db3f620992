"""Azure preflight, cloud health and the CAPZ identity. The real azure-identity credential and
azure-mgmt clients run; `responses` answers their HTTP (Entra ID and Resource Manager)."""

from __future__ import annotations

import base64
import re

import pytest
import responses

from providers import retry
from providers.azure import cloud
from providers.base import ClusterRequest, Credentials, PreflightFailure, ProviderError, WorkerPool

TENANT = "11111111-2222-3333-4444-555555555555"
SUB = "99999999-8888-7777-6666-555555555555"
CLIENT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
CLIENT_SECRET = "Q~drover.client.secret.value-123"
CREDS = Credentials(
    "azure-creds",
    {
        "AZURE_CLIENT_ID": CLIENT_ID,
        "AZURE_CLIENT_SECRET": CLIENT_SECRET,
        "AZURE_TENANT_ID": TENANT,
        "AZURE_SUBSCRIPTION_ID": SUB,
    },
)
LOGIN = "https://login.microsoftonline.com"
ARM = f"https://management.azure.com/subscriptions/{SUB}"
AKS = f"{ARM}/resourceGroups/prod-1/providers/Microsoft.ContainerService/managedClusters/prod-1"


def request(**overrides) -> ClusterRequest:
    fields = {
        "name": "prod-1",
        "namespace": "team-a",
        "provider": "azure",
        "flavor": "kubeadm",
        "kubernetes_version": "v1.31.2",
        "region": "eastus",
        "workers": (WorkerPool("pool-a", 2, "Standard_D4s_v3"), WorkerPool("pool-b", 1)),
    }
    return ClusterRequest(**{**fields, **overrides})


def sku(name: str, restricted: bool = False) -> dict:
    restrictions = (
        [
            {
                "type": "Location",
                "values": ["eastus"],
                "reasonCode": "NotAvailableForSubscription",
                "restrictionInfo": {"locations": ["eastus"]},
            }
        ]
        if restricted
        else []
    )
    return {
        "resourceType": "virtualMachines",
        "name": name,
        "locations": ["eastus"],
        "restrictions": restrictions,
    }


def arm_error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


@pytest.fixture
def azure(monkeypatch):
    """A fake tenant and subscription: location eastus with a few VM sizes and AKS versions."""
    monkeypatch.setattr(retry, "sleep", lambda seconds: None)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as fake:
        fake.get(re.compile(rf"{LOGIN}/common/discovery/instance.*"), json={"metadata": []})
        fake.get(
            re.compile(rf"{LOGIN}/{TENANT}/v2.0/.well-known/openid-configuration.*"),
            json={
                "token_endpoint": f"{LOGIN}/{TENANT}/oauth2/v2.0/token",
                "authorization_endpoint": f"{LOGIN}/{TENANT}/oauth2/v2.0/authorize",
                "issuer": f"{LOGIN}/{TENANT}/v2.0",
            },
        )
        fake.post(
            f"{LOGIN}/{TENANT}/oauth2/v2.0/token",
            json={"token_type": "Bearer", "expires_in": 3600, "access_token": "arm-token"},
        )
        fake.get(
            f"{ARM}/locations",
            json={
                "value": [
                    {"name": n, "displayName": n, "metadata": {"regionType": "Physical"}}
                    for n in ("eastus", "westeurope")
                ]
            },
        )
        fake.get(
            f"{ARM}/providers/Microsoft.Compute/skus",
            json={
                "value": [
                    sku("Standard_D2s_v3"),
                    sku("Standard_D4s_v3"),
                    sku("Standard_E4s_v5"),
                    sku("Standard_NC6s_v3", restricted=True),
                    {"resourceType": "disks", "name": "Premium_LRS", "locations": ["eastus"]},
                ]
            },
        )
        fake.get(
            f"{ARM}/providers/Microsoft.ContainerService/locations/eastus/kubernetesVersions",
            json={
                "values": [
                    {
                        "version": "1.30",
                        "patchVersions": {"1.30.6": {"upgrades": []}, "1.30.5": {}},
                    },
                    {
                        "version": "1.31",
                        "isDefault": True,
                        "patchVersions": {"1.31.2": {}, "1.31.1": {}},
                    },
                ]
            },
        )
        yield fake


def test_missing_keys_are_named():
    with pytest.raises(
        ProviderError, match="^Secret 'c' has no AZURE_CLIENT_SECRET, AZURE_SUBSCRIPTION_ID$"
    ):
        cloud.parse_credentials(
            Credentials("c", {"AZURE_CLIENT_ID": CLIENT_ID, "AZURE_TENANT_ID": TENANT})
        )


def test_create_for_rbac_output_is_accepted():
    creds = Credentials(
        "c",
        {"appId": CLIENT_ID, "password": CLIENT_SECRET, "tenant": TENANT, "subscriptionId": SUB},
    )
    sp = cloud.parse_credentials(creds)
    assert (sp.client_id, sp.client_secret, sp.tenant_id, sp.subscription_id) == (
        CLIENT_ID,
        CLIENT_SECRET,
        TENANT,
        SUB,
    )
    assert CLIENT_SECRET not in repr(sp)


# --- preflight -------------------------------------------------------------------------------


def test_preflight_passes_for_kubeadm(azure):
    assert cloud.preflight(request(), CREDS) == []
    arm_calls = [c for c in azure.calls if c.request.url.startswith(ARM)]
    assert arm_calls[0].request.headers["Authorization"] == "Bearer arm-token"


def test_preflight_passes_for_aks(azure):
    assert cloud.preflight(request(flavor="aks"), CREDS) == []
    assert cloud.preflight(request(flavor="aks", kubernetes_version="1.30"), CREDS) == []


def test_preflight_missing_key():
    [failure] = cloud.preflight(
        request(), Credentials("azure-creds", {"AZURE_CLIENT_ID": CLIENT_ID})
    )
    assert failure == PreflightFailure(
        "InvalidCredentials",
        "Secret 'azure-creds' has no AZURE_CLIENT_SECRET, AZURE_TENANT_ID, AZURE_SUBSCRIPTION_ID",
    )


def test_preflight_wrong_client_secret(azure):
    azure.replace(
        responses.POST,
        f"{LOGIN}/{TENANT}/oauth2/v2.0/token",
        status=401,
        json={
            "error": "invalid_client",
            "error_codes": [7000215],
            "error_description": "AADSTS7000215: Invalid client secret provided.",
        },
    )
    [failure] = cloud.preflight(request(), CREDS)
    assert failure == PreflightFailure(
        "InvalidCredentials",
        (
            f"Azure rejected service principal {CLIENT_ID} from Secret 'azure-creds' for subscription {SUB}: "
            "ClientAuthenticationError: Authentication failed: AADSTS7000215: Invalid client secret provided."
        ),
    )


def test_preflight_subscription_not_found(azure):
    azure.replace(
        responses.GET,
        f"{ARM}/locations",
        status=404,
        json=arm_error("SubscriptionNotFound", f"The subscription '{SUB}' could not be found."),
    )
    [failure] = cloud.preflight(request(), CREDS)
    assert failure.reason == "InvalidCredentials"
    assert failure.message.endswith(
        f"SubscriptionNotFound (HTTP 404): The subscription '{SUB}' could not be found."
    )


def test_preflight_location_not_found(azure):
    [failure] = cloud.preflight(request(region="marsnorth"), CREDS)
    assert failure == PreflightFailure(
        "RegionNotFound",
        "Azure location 'marsnorth' does not exist; locations: eastus, westeurope",
    )


def test_preflight_vm_size_not_offered_or_restricted(azure):
    req = request(
        control_plane_machine_type="Standard_D99s_v9",
        workers=(WorkerPool("gpu", 1, "Standard_NC6s_v3"),),
    )
    assert cloud.preflight(req, CREDS) == [
        PreflightFailure(
            "MachineTypeNotOffered",
            (
                "VM size Standard_D99s_v9 (control plane) is not offered in eastus; "
                "offered: Standard_D2s_v3, Standard_D4s_v3"
            ),
        ),
        PreflightFailure(
            "MachineTypeNotOffered",
            (
                "VM size Standard_NC6s_v3 (pool gpu) is not available to this subscription in eastus "
                "(NotAvailableForSubscription)"
            ),
        ),
    ]


def test_preflight_checks_default_vm_size(azure):
    azure.replace(
        responses.GET,
        f"{ARM}/providers/Microsoft.Compute/skus",
        json={"value": [sku("Standard_E4s_v5")]},
    )
    [failure] = cloud.preflight(request(workers=(WorkerPool("a", 1),)), CREDS)
    assert failure.message == (
        "VM size Standard_D2s_v3 (control plane, pool a) is not offered in eastus; offered: Standard_E4s_v5"
    )


def test_preflight_aks_version_unsupported(azure):
    [failure] = cloud.preflight(request(flavor="aks", kubernetes_version="v1.31.9"), CREDS)
    assert failure == PreflightFailure(
        "KubernetesVersionUnsupported",
        (
            "AKS in eastus does not offer Kubernetes 1.31.9 (requested v1.31.9); offered: 1.31.2, 1.31.1, 1.30.6, 1.30.5"
        ),
    )


def test_preflight_aks_checks_pool_sizes_only(azure):
    req = request(
        flavor="aks",
        control_plane_machine_type="ignored",
        workers=(WorkerPool("w", 1, "Standard_Z1"),),
    )
    assert [f.message.split(" is ")[0] for f in cloud.preflight(req, CREDS)] == [
        "VM size Standard_Z1 (pool w)"
    ]


def test_preflight_permission_denied_after_login(azure):
    azure.replace(
        responses.GET,
        f"{ARM}/providers/Microsoft.Compute/skus",
        status=403,
        json=arm_error(
            "AuthorizationFailed",
            "The client does not have authorization to perform action "
            "'Microsoft.Compute/skus/read'.",
        ),
    )
    [failure] = cloud.preflight(request(), CREDS)
    assert failure.reason == "InsufficientPermissions"
    assert failure.message == (
        "Azure API call failed: AuthorizationFailed (HTTP 403): The client does not have authorization "
        "to perform action 'Microsoft.Compute/skus/read'."
    )


# --- cloud health ----------------------------------------------------------------------------


def managed_cluster(state="Succeeded", power="Running") -> dict:
    return {
        "name": "prod-1",
        "location": "eastus",
        "properties": {
            "provisioningState": state,
            "powerState": {"code": power},
            "kubernetesVersion": "1.31",
            "currentKubernetesVersion": "1.31.2",
        },
    }


def agent_pools(*pools: tuple[str, str, str]) -> dict:
    return {
        "value": [
            {
                "name": name,
                "properties": {"provisioningState": state, "powerState": {"code": power}},
            }
            for name, state, power in pools
        ]
    }


def test_aks_health_healthy(azure):
    azure.get(AKS, json=managed_cluster())
    azure.get(f"{AKS}/agentPools", json=agent_pools(("pool0", "Succeeded", "Running")))
    health = cloud.cloud_health(request(flavor="aks"), CREDS)
    assert (health.state, health.message) == ("Healthy", "AKS cluster prod-1 is Succeeded, Running")
    assert health.details == {
        "aks.provisioningState": "Succeeded",
        "aks.powerState": "Running",
        "aks.version": "1.31.2",
        "agentpool.pool0": "Succeeded/Running",
    }


def test_aks_health_failed_pool_and_stopped_cluster(azure):
    azure.get(AKS, json=managed_cluster(power="Stopped"))
    azure.get(f"{AKS}/agentPools", json=agent_pools(("pool0", "Failed", "Running")))
    health = cloud.cloud_health(request(flavor="aks"), CREDS)
    assert (health.state, health.message) == (
        "Degraded",
        "cluster: stopped; agent pool pool0: provisioning Failed",
    )


def test_aks_health_creating_and_deleting(azure):
    azure.get(AKS, json=managed_cluster(state="Creating"))
    azure.get(f"{AKS}/agentPools", json=agent_pools(("pool0", "Creating", "Running")))
    assert cloud.cloud_health(request(flavor="aks"), CREDS).state == "Provisioning"
    azure.replace(responses.GET, AKS, json=managed_cluster(state="Deleting"))
    assert cloud.cloud_health(request(flavor="aks"), CREDS).state == "Deleting"


def test_aks_health_not_found(azure):
    azure.get(AKS, status=404, json=arm_error("ResourceNotFound", "not found"))
    health = cloud.cloud_health(request(flavor="aks"), CREDS)
    assert (health.state, health.message) == (
        "NotFound",
        "AKS cluster prod-1 does not exist in resource group prod-1",
    )


def vm(
    name: str, power: str = "running", state: str = "Succeeded", cluster: str = "prod-1"
) -> dict:
    return {
        "name": name,
        "location": "eastus",
        "tags": {f"sigs.k8s.io_cluster-api-provider-azure_cluster_{cluster}": "owned"},
        "properties": {
            "provisioningState": state,
            "instanceView": {
                "statuses": [
                    {"code": f"ProvisioningState/{state.lower()}"},
                    {"code": f"PowerState/{power}"},
                ]
            },
        },
    }


def test_kubeadm_health(azure):
    url = f"{ARM}/resourceGroups/prod-1/providers/Microsoft.Compute/virtualMachines"
    azure.get(url, json={"value": [vm("cp-0"), vm("md-0"), vm("other", cluster="other")]})
    health = cloud.cloud_health(request(), CREDS)
    assert (health.state, health.message) == ("Healthy", "2 VMs running")
    assert health.details == {"vm.cp-0": "Succeeded/running", "vm.md-0": "Succeeded/running"}
    assert "$expand=instanceView" in azure.calls[-1].request.url
    azure.replace(responses.GET, url, json={"value": [vm("cp-0"), vm("md-0", power="deallocated")]})
    assert cloud.cloud_health(request(), CREDS).message == "1 VM(s) failed or not running: md-0"
    azure.replace(
        responses.GET, url, json={"value": [vm("cp-0", power="starting", state="Creating")]}
    )
    assert cloud.cloud_health(request(), CREDS).state == "Provisioning"
    azure.replace(responses.GET, url, json={"value": [vm("other", cluster="other")]})
    health = cloud.cloud_health(request(), CREDS)
    assert (health.state, health.message) == (
        "NotFound",
        "no VMs tagged sigs.k8s.io_cluster-api-provider-azure_cluster_prod-1=owned in resource group prod-1",
    )


def test_health_api_error_is_unknown(azure):
    azure.get(AKS, status=500, json=arm_error("InternalServerError", "oops"))
    health = cloud.cloud_health(request(flavor="aks"), CREDS)
    assert (health.state, health.message) == (
        "Unknown",
        "Azure API call failed: InternalServerError (HTTP 500): oops",
    )
    assert len([c for c in azure.calls if c.request.url.startswith(AKS)]) == retry.ATTEMPTS


# --- credential objects ----------------------------------------------------------------------


def test_cluster_identity_objects():
    secret, identity = cloud.credential_objects(request(), CREDS)
    assert secret["metadata"]["name"] == "prod-1-azure-identity-secret"
    assert secret["metadata"]["namespace"] == "team-a"
    assert base64.b64decode(secret["data"]["clientSecret"]).decode() == CLIENT_SECRET
    assert identity["apiVersion"] == "infrastructure.cluster.x-k8s.io/v1beta1"
    assert identity["kind"] == "AzureClusterIdentity"
    assert identity["spec"] == {
        "type": "ServicePrincipal",
        "clientID": CLIENT_ID,
        "tenantID": TENANT,
        "clientSecret": {"name": "prod-1-azure-identity-secret", "namespace": "team-a"},
        "allowedNamespaces": {"list": ["team-a"]},
    }
    assert CLIENT_SECRET not in repr(identity)
    assert cloud.identity_ref(request()) == {
        "kind": "AzureClusterIdentity",
        "name": "prod-1-azure-identity",
        "namespace": "team-a",
    }
