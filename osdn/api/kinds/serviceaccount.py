"""ServiceAccount (core/v1): model and validation. Pure.

As kube-apiserver stores it: `secrets` (object references), `imagePullSecrets` (local references by
name) and `automountServiceAccountToken`; the name is a DNS subdomain (the metadata check). osdn runs
no token controller: no token Secrets are made for it; tokens come from the TokenRequest subresource
(`TokenRequest` below is its schema; osdn.api.satoken reads it, osdn.apiserver.satoken serves it).
"""

from __future__ import annotations

from osdn.api.kinds.meta import KubeModel, Obj, ObjectReference, TypedObject, parse_strict
from osdn.errors import FieldError

# made in every namespace (osdn.master.serviceaccounts; the bootstrapped ones at start): kube's
# `default`, OpenShift's `builder` and `deployer`
DEFAULT_ACCOUNTS = ("default", "builder", "deployer")


class LocalObjectReference(KubeModel):
    name: str | None = None


class ServiceAccount(TypedObject):
    secrets: list[ObjectReference] | None = None
    image_pull_secrets: list[LocalObjectReference] | None = None
    automount_service_account_token: bool | None = None


def validate_service_account(obj: Obj, old: Obj | None) -> list[FieldError]:
    """Field types only: kube checks nothing else of a ServiceAccount but its metadata."""
    return parse_strict(ServiceAccount, obj)[1]


class BoundObjectReference(KubeModel):
    kind: str | None = None
    api_version: str | None = None
    name: str | None = None
    uid: str | None = None


class TokenRequestSpec(KubeModel):
    audiences: list[str] | None = None
    expiration_seconds: int | None = None
    bound_object_ref: BoundObjectReference | None = None


class TokenRequestStatus(KubeModel):
    token: str | None = None
    expiration_timestamp: str | None = None


class TokenRequest(TypedObject):
    """authentication.k8s.io/v1 TokenRequest, the body and answer of `serviceaccounts/NAME/token`
    (never stored; osdn.api.satoken reads it): the schema OpenAPI shows for the subresource."""

    spec: TokenRequestSpec | None = None
    status: TokenRequestStatus | None = None
