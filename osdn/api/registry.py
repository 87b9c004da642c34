"""The table of every kind osdn serves: group, version, plural, scope, short names, and its hooks.

Pure. A kind's pydantic model, defaulting and validation live in `osdn.api.kinds` (see `Hooks`
there); this table only names kinds. The API server, the client and the CLI all resolve names through here:
`resolve("netnamespaces")`, `resolve("netns")`, `resolve("routes.route.openshift.io")` and
`for_object({"apiVersion": "v1", "kind": "Route"})` all find the same entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from osdn.errors import BadRequestError, NotFoundError

Obj = dict[str, Any]


@dataclass(frozen=True)
class KindInfo:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    has_status: bool = False
    singular_name: str = ""  # when not the kind in lower case (`network-attachment-definition`)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        """Fully qualified resource name, the store's key prefix: `pods`, `routes.route.openshift.io`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def singular(self) -> str:
        return self.singular_name or self.kind.lower()

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """REST path of the collection or of one object."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        return base


_CORE = "", "v1"
_KINDS: list[KindInfo] = [
    KindInfo(*_CORE, "Namespace", "namespaces", False, ("ns",), has_status=True),
    KindInfo(*_CORE, "Pod", "pods", True, ("po",), has_status=True),
    KindInfo(*_CORE, "Service", "services", True, ("svc",), has_status=True),
    KindInfo(*_CORE, "Endpoints", "endpoints", True, ("ep",)),
    KindInfo(*_CORE, "ConfigMap", "configmaps", True, ("cm",)),
    KindInfo(*_CORE, "Secret", "secrets", True),
    KindInfo(*_CORE, "ServiceAccount", "serviceaccounts", True, ("sa",)),
    KindInfo(*_CORE, "ReplicationController", "replicationcontrollers", True, ("rc",), has_status=True),
    KindInfo(*_CORE, "Node", "nodes", False, ("no",), has_status=True),
    KindInfo(*_CORE, "Event", "events", True, ("ev",)),
    KindInfo(*_CORE, "ResourceQuota", "resourcequotas", True, ("quota",), has_status=True),
    KindInfo("apps", "v1", "Deployment", "deployments", True, ("deploy",), has_status=True),
    KindInfo("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), has_status=True),
    KindInfo("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ("netpol",)),
    KindInfo("networking.k8s.io", "v1", "Ingress", "ingresses", True, ("ing",), has_status=True),
    KindInfo("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    KindInfo("coordination.k8s.io", "v1", "Lease", "leases", True),
    KindInfo("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    KindInfo("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    KindInfo("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    KindInfo("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    KindInfo("route.openshift.io", "v1", "Route", "routes", True, has_status=True),
    KindInfo("template.openshift.io", "v1", "Template", "templates", True),
    KindInfo("project.openshift.io", "v1", "Project", "projects", False, has_status=True),
    KindInfo("project.openshift.io", "v1", "ProjectRequest", "projectrequests", False),
    KindInfo("network.openshift.io", "v1", "ClusterNetwork", "clusternetworks", False),
    KindInfo("network.openshift.io", "v1", "HostSubnet", "hostsubnets", False),
    KindInfo("network.openshift.io", "v1", "NetNamespace", "netnamespaces", False),
    KindInfo("network.openshift.io", "v1", "EgressNetworkPolicy", "egressnetworkpolicies", True),
    KindInfo("operator.openshift.io", "v1", "Network", "networks", False, has_status=True),
    KindInfo("config.openshift.io", "v1", "ClusterOperator", "clusteroperators", False, ("co",), has_status=True),
    KindInfo("config.openshift.io", "v1", "Ingress", "ingresses", False, has_status=True),
    KindInfo("k8s.cni.cncf.io", "v1", "NetworkAttachmentDefinition", "network-attachment-definitions", True,
             ("net-attach-def",), singular_name="network-attachment-definition"),
    KindInfo("network.operator.openshift.io", "v1", "EgressRouter", "egressrouters", True, has_status=True),
]

_BY_KIND: dict[str, KindInfo] = {}
for _k in _KINDS:
    _BY_KIND.setdefault(_k.kind, _k)  # `Ingress` is networking.k8s.io's; config.openshift.io's by its apiVersion
_NAMES: dict[str, KindInfo] = {}
for _k in _KINDS:
    for _n in (_k.plural, _k.singular, _k.kind, _k.resource, f"{_k.singular}.{_k.group}", *_k.short_names):
        _NAMES.setdefault(_n.lower(), _k)


def all_kinds() -> list[KindInfo]:
    return list(_KINDS)


def by_kind(kind: str) -> KindInfo:
    try:
        return _BY_KIND[kind]
    except KeyError:
        raise NotFoundError(f'unknown kind "{kind}"') from None


def resolve(name: str) -> KindInfo:
    """Find a kind by what a user types: plural, singular, kind, short name or `plural.group`."""
    info = _NAMES.get(name.lower())
    if info is None:
        raise NotFoundError(f'the server doesn\'t have a resource type "{name}"')
    return info


def resolve_subresource(name: str) -> tuple[KindInfo, str]:
    """`routes.route.openshift.io/custom-host` -> (Route, "custom-host"); used for RBAC rules."""
    base, _, sub = name.partition("/")
    return resolve(base), sub


def for_path(group: str, version: str, plural: str) -> KindInfo:
    for k in _KINDS:
        if k.group == group and k.plural == plural:
            if k.version != version:
                raise NotFoundError(f"the server could not find the requested resource ({group}/{version} {plural})")
            return k
    raise NotFoundError(f"the server could not find the requested resource ({plural})")


def for_object(obj: Obj) -> KindInfo:
    """The kind of a manifest; `apiVersion: v1` also names the legacy OpenShift kinds (Route, Project, ...)."""
    kind = obj.get("kind")
    api_version = obj.get("apiVersion")
    if not isinstance(kind, str) or not kind:
        raise BadRequestError("Object 'Kind' is missing in the manifest")
    if not isinstance(api_version, str) or not api_version:
        raise BadRequestError(f"Object 'apiVersion' is missing in the {kind} manifest")
    info = next((k for k in _KINDS if k.kind == kind and k.api_version == api_version), _BY_KIND.get(kind))
    if info is None:
        raise BadRequestError(f'no matches for kind "{kind}" in version "{api_version}"')
    if api_version == info.api_version or api_version == "v1":
        return info
    raise BadRequestError(f'no matches for kind "{kind}" in version "{api_version}"')
