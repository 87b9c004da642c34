"""Patch metadata of the Kubernetes kinds osdn serves: which lists merge, by which key.

Pure data. Transcribed from the struct tags of upstream k8s.io/api (`patchStrategy:"merge"
patchMergeKey:"name"`) and k8s.io/apimachinery meta/v1 (ObjectMeta): strategic merge patch
(`osdn.api.strategic`) and server-side apply (`osdn.api.fieldset`) both read it. A list without an
entry is atomic (a patch replaces it whole: tolerations, NetworkPolicy rules, Endpoints subsets); a
map without an entry merges key by key. `schema_for(kind)` is None for kinds that have no Go types
in kube-apiserver or openshift-apiserver (the OpenShift kinds that OpenShift 4 serves as CRDs): the
API answers a strategic merge patch of them with 415, as kube-apiserver does for custom resources.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Field:
    """How one field patches: `strategy` as in the struct tag ("merge", "merge,retainKeys",
    "retainKeys", "replace" or ""), `key` the merge key of a list of objects, `node` the schema of
    the value (of each item, for a list)."""

    strategy: str = ""
    key: str = ""
    node: Node | None = None

    @property
    def merges(self) -> bool:
        return "merge" in self.strategy.split(",")

    @property
    def replaces(self) -> bool:
        return "replace" in self.strategy.split(",")


@dataclass
class Node:
    """The schema of an object: its fields that are not plain (mutable, so a type can hold itself)."""

    fields: dict[str, Field] = field(default_factory=dict)

    def get(self, name: str) -> Field:
        return self.fields.get(name, PLAIN)


PLAIN = Field()
EMPTY = Node()


def struct(node: Node, strategy: str = "") -> Field:
    return Field(strategy, "", node)


def merge(key: str = "", node: Node | None = None, strategy: str = "merge") -> Field:
    return Field(strategy, key, node)


OBJECT_META = Node({"finalizers": merge(), "ownerReferences": merge("uid")})
CONDITIONS = merge("type")

_CONTAINER = Node({
    "ports": merge("containerPort"),
    "env": merge("name"),
    "volumeMounts": merge("mountPath"),
    "volumeDevices": merge("devicePath"),
})
POD_SPEC = Node({
    "volumes": merge("name", strategy="merge,retainKeys"),
    "initContainers": merge("name", _CONTAINER),
    "containers": merge("name", _CONTAINER),
    "ephemeralContainers": merge("name", _CONTAINER),
    "imagePullSecrets": merge("name"),
    "hostAliases": merge("ip"),
    "topologySpreadConstraints": merge("topologyKey"),
    "schedulingGates": merge("name"),
    "resourceClaims": merge("name", strategy="merge,retainKeys"),
    "evictionResponders": merge("name"),
})
POD_STATUS = Node({
    "conditions": CONDITIONS,
    "hostIPs": merge("ip"),
    "podIPs": merge("ip"),
    "resourceClaimStatuses": merge("name", strategy="merge,retainKeys"),
})
POD_TEMPLATE = Node({"metadata": struct(OBJECT_META), "spec": struct(POD_SPEC)})
_CONDITIONS_STATUS = Node({"conditions": CONDITIONS})


def _kind(**fields: Field) -> Node:
    return Node({"metadata": struct(OBJECT_META), **fields})


_SCHEMAS: dict[str, Node] = {
    "Namespace": _kind(status=struct(_CONDITIONS_STATUS)),
    "Pod": _kind(spec=struct(POD_SPEC), status=struct(POD_STATUS)),
    "Service": _kind(spec=struct(Node({"ports": merge("port")})), status=struct(_CONDITIONS_STATUS)),
    "Endpoints": _kind(),
    "ConfigMap": _kind(),
    "Secret": _kind(),
    "ServiceAccount": _kind(secrets=merge("name")),   # imagePullSecrets is atomic
    "ReplicationController": _kind(spec=struct(Node({"template": struct(POD_TEMPLATE)})),
                                   status=struct(_CONDITIONS_STATUS)),
    "Node": _kind(spec=struct(Node({"podCIDRs": merge()})),
                  status=struct(Node({"conditions": CONDITIONS, "addresses": merge("type")}))),
    "Event": _kind(),
    "ResourceQuota": _kind(),
    "Deployment": _kind(spec=struct(Node({"template": struct(POD_TEMPLATE),
                                          "strategy": struct(EMPTY, "retainKeys")})),
                        status=struct(_CONDITIONS_STATUS)),
    "ReplicaSet": _kind(spec=struct(Node({"template": struct(POD_TEMPLATE)})), status=struct(_CONDITIONS_STATUS)),
    "NetworkPolicy": _kind(),
    "Ingress": _kind(),
    "EndpointSlice": _kind(),
    "ClusterRole": _kind(),
    "ClusterRoleBinding": _kind(),
    "RoleBinding": _kind(),
    "Role": _kind(),
    "Lease": _kind(),
    # served by openshift-apiserver as built-in types (strategic merge patch works, as for `oc patch route`)
    "Route": _kind(),
    "Template": _kind(),
    "Project": _kind(),
    # network.openshift.io: built-in types of OpenShift 3.x's API server (CRDs only from 4.x), so the
    # seeds' `oc patch netnamespace|hostsubnet NAME -p ...` (no --type) works with kubectl too; their
    # lists (egressIPs, egressCIDRs, spec.egress) have no patch strategy: a patch replaces them whole
    "ClusterNetwork": _kind(),
    "HostSubnet": _kind(),
    "NetNamespace": _kind(),
    "EgressNetworkPolicy": _kind(),
}


def schema_for(kind: str) -> Node | None:
    """The patch schema of a built-in Kubernetes kind; None for kinds kube serves as CRDs."""
    return _SCHEMAS.get(kind)
