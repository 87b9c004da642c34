"""EndpointSlices of a Service, planned as Kubernetes' EndpointSlice controllers would. Pure.

`desired_for_service(svc, pods)` is what the endpointslice controller publishes for a Service with a
selector: every pod with an IPv4 address that is not finished (terminating pods included), as an
endpoint with conditions `ready` (Ready and not terminating, or the Service publishes not-ready
addresses), `serving` (Ready) and `terminating`, its `nodeName`, a `targetRef` to the pod and
`hostname` when the pod's subdomain is the Service; endpoints are grouped by their resolved ports
(a named targetPort resolved per pod), at most `MAX_PER_SLICE` per slice. A Service without
endpoints keeps one placeholder slice (no ports, no endpoints). Slices carry the Service's labels,
`kubernetes.io/service-name`, `endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`,
`service.kubernetes.io/headless` for headless Services, and a controller ownerReference to the Service.

`desired_for_endpoints(ep)` mirrors a manually managed Endpoints object (its Service has no selector)
as the endpointslicemirroring controller does: one group per subset's ports, `ready` true for
`addresses` and false for `notReadyAddresses`, the Endpoints' labels and annotations, an
ownerReference to the Endpoints, at most `MIRROR_MAX_PER_SLICE` per slice, no placeholder.

`plan_slices(desired, existing)` turns that into creates, updates and deletes with little churn, as
upstream's reconciler: an endpoint stays in the slice that holds it, new endpoints fill slices with
room before a new slice is made (`generateName: <service>-`), emptied slices are deleted. Applying
the plan and planning again yields nothing to do.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from osdn.master.endpoints import pod_ports, pod_ready, selects

Obj = dict[str, Any]
API_VERSION = "discovery.k8s.io/v1"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"
MIRROR_CONTROLLER = "endpointslicemirroring-controller.k8s.io"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
HEADLESS_LABEL = "service.kubernetes.io/headless"
MAX_PER_SLICE = 100          # kube-controller-manager --max-endpoints-per-slice default
MIRROR_MAX_PER_SLICE = 1000  # --mirroring-max-endpoints-per-subset default
_RESERVED = (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)
_NOT_COPIED = ("kubectl.kubernetes.io/last-applied-configuration", "endpoints.kubernetes.io/last-change-trigger-time")


@dataclass(frozen=True)
class Desired:
    """What the slices of one Service must hold: endpoints grouped by their port list."""

    service: str
    namespace: str
    manager: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    owner: Obj
    groups: Mapping[str, list[Obj]]   # ports_key(ports) -> endpoints, in order
    max_per_slice: int = MAX_PER_SLICE
    placeholder: bool = True          # keep one empty slice when there are no endpoints


@dataclass
class SlicePlan:
    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def ports_key(ports: Iterable[Mapping[str, Any]]) -> str:
    return json.dumps([dict(sorted(p.items())) for p in ports], sort_keys=True)


def _owner(api_version: str, kind: str, obj: Mapping[str, Any]) -> Obj:
    return {"apiVersion": api_version, "kind": kind, "name": _meta(obj).get("name"), "uid": _meta(obj).get("uid"),
            "controller": True, "blockOwnerDeletion": True}


def _slice_ports(svc: Mapping[str, Any], pod: Mapping[str, Any]) -> list[Obj]:
    spec = svc.get("spec") or {}
    if not spec.get("ports") and spec.get("clusterIP") == "None":
        return []
    return [{"name": p.get("name", ""), "port": p["port"], "protocol": p["protocol"]} for p in pod_ports(svc, pod)]


def pod_endpoint(svc: Mapping[str, Any], pod: Mapping[str, Any]) -> Obj:
    """Pure: upstream's podToEndpoint for IPv4."""
    meta, spec = _meta(pod), pod.get("spec") or {}
    serving = pod_ready(pod)
    terminating = bool(meta.get("deletionTimestamp"))
    ready = bool((svc.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    ep: Obj = {"addresses": [(pod.get("status") or {}).get("podIP")],
               "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
               "targetRef": {"kind": "Pod", "namespace": meta.get("namespace"), "name": meta.get("name"),
                             "uid": meta.get("uid")}}
    if spec.get("nodeName"):
        ep["nodeName"] = spec["nodeName"]
    if spec.get("hostname") and spec.get("subdomain") == _meta(svc).get("name"):
        ep["hostname"] = spec["hostname"]
    return ep


def _in_slices(pod: Mapping[str, Any]) -> bool:
    """Upstream's ShouldPodBeInEndpoints(pod, includeTerminating=true), IPv4 only."""
    status = pod.get("status") or {}
    ip = str(status.get("podIP") or "")
    return bool(ip) and ":" not in ip and status.get("phase") not in ("Succeeded", "Failed")


def service_labels(svc: Mapping[str, Any]) -> dict[str, str]:
    labels = {k: v for k, v in (_meta(svc).get("labels") or {}).items() if k not in _RESERVED}
    if (svc.get("spec") or {}).get("clusterIP") in ("None", "", None):
        labels[HEADLESS_LABEL] = ""
    return {**labels, SERVICE_NAME_LABEL: str(_meta(svc).get("name")), MANAGED_BY_LABEL: CONTROLLER}


def desired_for_service(svc: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> Desired:
    """Pure: the slices' content for a Service with a selector, from the pods of its namespace."""
    selector = (svc.get("spec") or {}).get("selector")
    groups: dict[str, list[Obj]] = {}
    for pod in sorted(pods, key=lambda p: str(_meta(p).get("name"))):
        if _in_slices(pod) and selects(selector, _meta(pod).get("labels")):
            ports = _slice_ports(svc, pod)
            groups.setdefault(ports_key(ports), []).append(pod_endpoint(svc, pod))
    return Desired(str(_meta(svc).get("name")), str(_meta(svc).get("namespace")), CONTROLLER,
                   service_labels(svc), {}, _owner("v1", "Service", svc), groups)


def _mirror_address(address: Mapping[str, Any], ready: bool) -> Obj:
    ep: Obj = {"addresses": [address.get("ip")], "conditions": {"ready": ready}}
    for key in ("targetRef", "nodeName", "hostname"):
        if address.get(key):
            ep[key] = address[key]
    return ep


def desired_for_endpoints(ep: Mapping[str, Any]) -> Desired:
    """Pure: the mirrored slices of a manually managed Endpoints object (IPv4 addresses)."""
    groups: dict[str, list[Obj]] = {}
    for subset in ep.get("subsets") or []:
        ports = [{"name": p.get("name") or "", "port": p.get("port"), "protocol": p.get("protocol") or "TCP"}
                 for p in subset.get("ports") or []]
        group = groups.setdefault(ports_key(ports), [])
        for field_name, ready in (("addresses", True), ("notReadyAddresses", False)):
            group += [_mirror_address(a, ready) for a in subset.get(field_name) or []
                      if a.get("ip") and ":" not in str(a.get("ip"))]
    meta = _meta(ep)
    labels = {**(meta.get("labels") or {}), SERVICE_NAME_LABEL: str(meta.get("name")),
              MANAGED_BY_LABEL: MIRROR_CONTROLLER}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in _NOT_COPIED}
    return Desired(str(meta.get("name")), str(meta.get("namespace")), MIRROR_CONTROLLER, labels, annotations,
                   _owner("v1", "Endpoints", ep), {k: g for k, g in groups.items() if g},
                   MIRROR_MAX_PER_SLICE, placeholder=False)


def _identity(ep: Mapping[str, Any]) -> str:
    ref = ep.get("targetRef") or {}
    return f"{ref.get('namespace')}/{ref.get('name')}" if ref.get("name") else json.dumps(ep.get("addresses"))


def _shell(desired: Desired, name: str | None, ports: list[Obj]) -> Obj:
    meta: Obj = {"namespace": desired.namespace, "labels": dict(desired.labels), "ownerReferences": [desired.owner]}
    meta.update({"name": name} if name else {"generateName": f"{desired.service}-"})
    if desired.annotations:
        meta["annotations"] = dict(desired.annotations)
    return {"apiVersion": API_VERSION, "kind": "EndpointSlice", "metadata": meta, "addressType": "IPv4",
            "endpoints": [], "ports": ports}


def _same(have: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    hm, wm = _meta(have), want["metadata"]
    return ((have.get("endpoints") or []) == want["endpoints"] and (have.get("ports") or []) == want["ports"]
            and (hm.get("labels") or {}) == wm["labels"] and (hm.get("annotations") or {}) == wm.get("annotations", {})
            and (hm.get("ownerReferences") or []) == wm["ownerReferences"])


def _keep(desired: Desired, have: Mapping[str, Any]) -> bool:
    """An existing slice is reused when it is IPv4, owned by this owner and holds one of the port groups."""
    owners = [o.get("uid") for o in _meta(have).get("ownerReferences") or []]
    return (have.get("addressType") == "IPv4" and desired.owner.get("uid") in owners
            and ports_key(have.get("ports") or []) in desired.groups)


def plan_slices(desired: Desired, existing: Iterable[Mapping[str, Any]]) -> SlicePlan:
    """Pure: the writes that make `existing` (this manager's slices of the Service) hold `desired`."""
    ordered = sorted(existing, key=lambda s: str(_meta(s).get("name")))
    if desired.placeholder and not desired.groups:
        return _plan_placeholder(desired, ordered)
    plan = SlicePlan()
    wanted = {key: {_identity(e): e for e in eps} for key, eps in desired.groups.items()}
    placed: set[tuple[str, str]] = set()
    kept: list[tuple[Mapping[str, Any], Obj]] = []
    for have in ordered:
        if not _keep(desired, have):
            plan.delete.append(str(_meta(have).get("name")))
            continue
        key = ports_key(have.get("ports") or [])
        want = _shell(desired, str(_meta(have).get("name")), list(have.get("ports") or []))
        for ep in have.get("endpoints") or []:
            ident = _identity(ep)
            if ident in wanted[key] and (key, ident) not in placed and len(want["endpoints"]) < desired.max_per_slice:
                want["endpoints"].append(wanted[key][ident])
                placed.add((key, ident))
        kept.append((have, want))
    plan.create = _fill(desired, wanted, placed, [w for _, w in kept])
    for have, want in kept:
        if not want["endpoints"]:
            plan.delete.append(str(_meta(have).get("name")))
        else:
            _update_if_changed(plan, have, want)
    return plan


def _plan_placeholder(desired: Desired, ordered: list[Mapping[str, Any]]) -> SlicePlan:
    """No endpoints: one empty slice stays (the first owned IPv4 one without ports), the rest go."""
    plan = SlicePlan()
    owned = [s for s in ordered if s.get("addressType") == "IPv4" and not s.get("ports")
             and desired.owner.get("uid") in [o.get("uid") for o in _meta(s).get("ownerReferences") or []]]
    keep = owned[0] if owned else None
    plan.delete = [str(_meta(s).get("name")) for s in ordered if s is not keep]
    if keep is None:
        plan.create.append(_shell(desired, None, []))
    else:
        _update_if_changed(plan, keep, _shell(desired, str(_meta(keep).get("name")), []))
    return plan


def _update_if_changed(plan: SlicePlan, have: Mapping[str, Any], want: Obj) -> None:
    if not _same(have, want):
        want["metadata"]["resourceVersion"] = _meta(have).get("resourceVersion")
        plan.update.append(want)


def _fill(desired: Desired, wanted: Mapping[str, Mapping[str, Obj]], placed: set[tuple[str, str]],
          kept: list[Obj]) -> list[Obj]:
    """Put the endpoints not yet placed into kept slices with room, then into new slices."""
    new: list[Obj] = []
    for key, eps in wanted.items():
        rest = [e for ident, e in eps.items() if (key, ident) not in placed]
        for want in (w for w in kept if ports_key(w["ports"]) == key):
            room = desired.max_per_slice - len(want["endpoints"])
            want["endpoints"] += rest[:room]
            rest = rest[room:]
        ports = json.loads(key)
        for start in range(0, len(rest), desired.max_per_slice):
            shell = _shell(desired, None, ports)
            shell["endpoints"] = rest[start:start + desired.max_per_slice]
            new.append(shell)
    return new
