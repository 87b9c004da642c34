"""What a fresh cluster starts with: built-in cluster roles, the `default` namespace, ClusterNetwork,
the operator `Network cluster` that mirrors it, the cluster DNS Service `openshift-dns/dns-default`
(`osdn.model.servicenet`), the namespace `kube-system` (the master's leader Lease) and the
ServiceAccounts default, builder and deployer of these namespaces.

Bootstrap is idempotent: on every start, missing objects are created and built-in roles are
reconciled to their current rules; nothing an administrator created is touched.
"""

from __future__ import annotations

import logging
from typing import Any

from osdn.api import podsecurity
from osdn.api.kinds.operator import network_from_cluster_network
from osdn.api.kinds.serviceaccount import DEFAULT_ACCOUNTS
from osdn.api.registry import all_kinds, by_kind
from osdn.apiserver.auth import RBAC, User
from osdn.apiserver.resources import Resources, key_of
from osdn.errors import NotFoundError
from osdn.model.servicenet import DNS_NAMESPACE, dns_service

log = logging.getLogger(__name__)
Obj = dict[str, Any]
ADMIN = User("system:admin", ("system:cluster-admins",))

_READ = ["get", "list", "watch"]
_ALL = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
_NET = "network.openshift.io"
_PROJECT_WRITABLE = [
    ("", ["pods", "services", "configmaps", "serviceaccounts", "replicationcontrollers",
          "replicationcontrollers/scale"]),
    ("apps", ["deployments", "deployments/scale", "replicasets", "replicasets/scale"]),
    ("route.openshift.io", ["routes", "routes/status"]),
    ("networking.k8s.io", ["networkpolicies", "ingresses"]),
    ("template.openshift.io", ["templates"]),
]
# Readable, not writable, by project roles, as OpenShift's aggregated role net-attach-def-project grants
# them: a NetworkAttachmentDefinition decides what a pod plugs into the node's network (an egress
# router's underlay address), so only cluster admins create them; so are EgressRouters, which make one.
_SECONDARY_NETWORKS = [("k8s.cni.cncf.io", ["network-attachment-definitions"]),
                       ("network.operator.openshift.io", ["egressrouters"])]
# Readable, not writable, by project roles (as in Kubernetes >= 1.22 and OpenShift): the node owns
# pod status and events; endpoints and endpointslices are written by controllers (writing them by hand can point a
# service at another tenant's pods, CVE-2021-25740).
# ResourceQuotas bound what a project may create, so, as in Kubernetes and OpenShift, project roles read
# them and only cluster admins write them (a tenant must not raise her own quota).
_PROJECT_READONLY = [("", ["pods/status", "endpoints", "events", "resourcequotas", "resourcequotas/status"]),
                     ("discovery.k8s.io", ["endpointslices"])]
METRICS_URLS = ["/metrics"]
PUBLIC_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]
DISCOVERY_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", *PUBLIC_URLS]


def _rule(group: str, resources: list[str], verbs: list[str]) -> Obj:
    return {"apiGroups": [group], "resources": resources, "verbs": verbs}


def _read_all_but_secrets() -> list[Obj]:
    """Read rules for every kind osdn serves (and their status) except Secrets, one rule per group."""
    groups: dict[str, list[str]] = {}
    for k in all_kinds():
        if k.kind != "Secret":
            groups.setdefault(k.group, []).extend([k.plural, f"{k.plural}/status"] if k.has_status else [k.plural])
    return [_rule(g, r, _READ) for g, r in groups.items()]


def builtin_roles() -> dict[str, list[Obj]]:
    """Rules of the built-in ClusterRoles (bound per project by RoleBindings, or cluster-wide).

    admin covers edit, which covers view, so a project admin may grant any of the three in her
    project (RBAC escalation prevention compares rules); she cannot change her Namespace or
    Project labels and annotations (namespaces are read-only to her).
    """
    edit = [_rule(g, r, _ALL) for g, r in _PROJECT_WRITABLE] + [_rule("", ["secrets"], _ALL),  # not in view
                                                                # mint service account tokens, as kube's edit
                                                                _rule("", ["serviceaccounts/token"], ["create"])]
    readonly = [_rule("", ["namespaces"], _READ), _rule("project.openshift.io", ["projects"], _READ),
                _rule(_NET, ["egressnetworkpolicies"], _READ)] + [
                    _rule(g, r, _READ) for g, r in _PROJECT_READONLY + _SECONDARY_NETWORKS]
    return {
        "cluster-admin": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                          {"nonResourceURLs": ["*"], "verbs": ["*"]}],
        # Project admin: everything in the project except the egress firewall, which only cluster
        # admins may create or edit (seed: "Project administrators can neither create
        # EgressNetworkPolicy objects, nor edit the ones you create in their project").
        "admin": edit + readonly + [
            _rule(RBAC, ["rolebindings", "roles"], _ALL),
            _rule("project.openshift.io", ["projects"], ["get", "update", "patch", "delete"]),
        ],
        "edit": edit + readonly,
        "view": [_rule(g, r, _READ) for g, r in _PROJECT_WRITABLE] + readonly,
        # Node agents: read the cluster's network state (not Secrets), register their Node, report pod status.
        "system:node": [
            *_read_all_but_secrets(),
            _rule("", ["nodes", "nodes/status"], ["create", "update", "patch"]),
            _rule("", ["pods", "pods/status", "events"], ["create", "update", "patch", "delete"]),
        ],
        # What kube grants every authenticated user (bound to system:authenticated below), so that
        # `kubectl auth can-i --list` shows it: discovery, the health and version URLs, the self reviews.
        "system:discovery": [{"nonResourceURLs": DISCOVERY_URLS, "verbs": ["get"]}],
        "system:public-info-viewer": [{"nonResourceURLs": PUBLIC_URLS, "verbs": ["get"]}],
        "system:basic-user": [_rule("authentication.k8s.io", ["selfsubjectreviews"], ["create"]),
                              _rule("authorization.k8s.io", ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                                    ["create"])],
        # Services that check callers' tokens and rights (kube's role of that name): TokenReview, SubjectAccessReview.
        "system:auth-delegator": [_rule("authentication.k8s.io", ["tokenreviews"], ["create"]),
                                  _rule("authorization.k8s.io", ["subjectaccessreviews"], ["create"])],
        # Prometheus scrapers: GET /metrics (bind a user or the group system:monitoring).
        "system:monitoring": [{"nonResourceURLs": METRICS_URLS, "verbs": ["get"]}],
        # Security context constraints beyond `restricted` (osdn.api.podsecurity), as OpenShift 4
        # names their roles; `osdn adm policy add-scc-to-user NAME` binds them.
        **{f"system:openshift:scc:{scc}": [{"apiGroups": [podsecurity.GROUP], "resources": [podsecurity.RESOURCE],
                                             "resourceNames": [scc], "verbs": ["use"]}]
           for scc in podsecurity.GRANTABLE},
    }


def _ensure(resources: Resources, kind: str, obj: Obj, reconcile: bool = False) -> None:
    info = by_kind(kind)
    meta = obj["metadata"]
    try:
        current = resources.store.get(key_of(info, meta.get("namespace", ""), meta["name"]))
    except NotFoundError:
        resources.create(ADMIN, info, meta.get("namespace", ""), obj)
        log.info("bootstrap: created %s %s", kind, meta["name"])
        return
    if reconcile and current.get("rules") != obj.get("rules"):
        resources.update(ADMIN, info, "", meta["name"], {**current, "rules": obj["rules"]})
        log.info("bootstrap: reconciled %s %s", kind, meta["name"])


def bootstrap(resources: Resources, cluster_network: Obj) -> None:
    for name, rules in builtin_roles().items():
        _ensure(resources, "ClusterRole", {
            "apiVersion": f"{RBAC}/v1", "kind": "ClusterRole",
            "metadata": {"name": name, "labels": {"osdn.io/bootstrap": "true"}}, "rules": rules}, reconcile=True)
    _ensure(resources, "ClusterRoleBinding", {
        "apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "system:nodes"},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "system:node"},
        "subjects": [{"kind": "Group", "name": "system:nodes", "apiGroup": RBAC}]})
    for everyone in ("system:discovery", "system:public-info-viewer", "system:basic-user"):
        _ensure(resources, "ClusterRoleBinding", {
            "apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": everyone},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": everyone},
            "subjects": [{"kind": "Group", "name": "system:authenticated", "apiGroup": RBAC}]})
    _ensure(resources, "ClusterRoleBinding", {
        "apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "system:monitoring"},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "system:monitoring"},
        "subjects": [{"kind": "Group", "name": "system:monitoring", "apiGroup": RBAC}]})
    _ensure(resources, "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    _ensure(resources, "ClusterNetwork", cluster_network)
    _ensure(resources, "Network", network_from_cluster_network(
        resources.store.get(key_of(by_kind("ClusterNetwork"), "", "default"))))
    _ensure(resources, "Template", project_request_template())
    _ensure(resources, "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": DNS_NAMESPACE}})
    # the master controllers' leader Lease lives here (osdn.master.leader), as kube-controller-manager's does
    _ensure(resources, "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})
    for namespace in ("default", DNS_NAMESPACE, "kube-system"):   # before serving; the master's
        for account in DEFAULT_ACCOUNTS:                             # serviceaccounts controller does the rest
            _ensure(resources, "ServiceAccount", {"apiVersion": "v1", "kind": "ServiceAccount",
                                                  "metadata": {"name": account, "namespace": namespace}})
    _ensure(resources, "Service", dns_service(str(resources.store.get(
        key_of(by_kind("ClusterNetwork"), "", "default")).get("serviceNetwork"))))


# Every new project's object counts are bounded from its first moment, so a self-provisioned tenant
# cannot flood the store, the controllers and every node (a Deployment of 2**31 replicas); generous
# for real projects, counts only (a compute quota would make every pod state its requests). Cluster
# admins change or drop it in the template, and write projects' quotas (docs/security.md, Quotas).
DEFAULT_PROJECT_QUOTA = {
    "pods": "1000", "services": "100", "replicationcontrollers": "100", "count/deployments.apps": "100",
    "count/replicasets.apps": "1000", "configmaps": "1000", "secrets": "1000",
    "count/networkpolicies.networking.k8s.io": "500",
}


def project_request_template() -> Obj:
    """The `project-request` Template whose objects every new project gets: the `project-default`
    ResourceQuota; an admin adds more (e.g. the seed's default NetworkPolicies) with `osdn edit
    template project-request -n default`."""
    return {
        "apiVersion": "template.openshift.io/v1", "kind": "Template",
        "metadata": {"name": "project-request", "namespace": "default",
                     "annotations": {"description": "Objects created in every new project"}},
        "objects": [{"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "project-default"},
                     "spec": {"hard": dict(DEFAULT_PROJECT_QUOTA)}}],
        "parameters": [{"name": n} for n in ("PROJECT_NAME", "PROJECT_DISPLAYNAME", "PROJECT_DESCRIPTION",
                                             "PROJECT_ADMIN_USER", "PROJECT_REQUESTING_USER")],
    }


def default_cluster_network(plugin: str, cidr: str, host_subnet_length: int, service_network: str) -> Obj:
    return {
        "apiVersion": f"{_NET}/v1", "kind": "ClusterNetwork", "metadata": {"name": "default"},
        "clusterNetworks": [{"CIDR": cidr, "hostSubnetLength": host_subnet_length}],
        "serviceNetwork": service_network, "pluginName": plugin, "vxlanPort": 4789, "mtu": 1450,
    }
