"""Drover's API: the models (source of truth) and the CRDs generated from them."""

from mgmt.api.models import API_VERSION, CLUSTER_NAME_LABEL, FLEET_LABEL, GROUP, VERSION  # noqa: F401
