"""Endpoints controller: an Endpoints object per Service with a selector, kept current from the pods.

Key: `namespace/name` of a Service. Level-triggered: for each key the Endpoints object is made to
equal `desired_endpoints(service, pods of its namespace)` (created, updated or deleted), so a restart
or a hand edit of a managed Endpoints is repaired by the next reconcile. As the Kubernetes endpoints
controller:
- only pods with an IP (a host-network pod's is its node's), not terminating and not finished;
  **Ready** pods go to `addresses`, the others to
  `notReadyAddresses` (`spec.publishNotReadyAddresses` makes them all ready);
- a named `targetPort` is resolved per pod (container port name and protocol) as upstream's
  `podutil.FindPort`: containers first, then sidecar init containers (`restartPolicy: Always`), never
  an init container that runs to completion; a pod without it is not an endpoint for that port;
  pods with the same resolved ports share a subset;
- headless services (`clusterIP: None`) get Endpoints too (DNS reads them); ExternalName services and
  services without a selector get none from this controller: manual Endpoints are left alone;
- the Endpoints of a deleted Service (or one whose selector was removed) are deleted if this
  controller made them (label `MANAGED_LABEL`).
Pod events enqueue the services of the pod's namespace whose selector matches the old or new labels.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from osdn.client import Client
from osdn.errors import AlreadyExistsError, NotFoundError
from osdn.master.controller import Controller, Informers
from osdn.model.objects import container_ports, find_port

log = logging.getLogger(__name__)
Obj = dict[str, Any]
MANAGED_LABEL = "endpoints.osdn.io/managed-by"
MANAGER = "endpoints-controller"
HEADLESS_LABEL = "service.kubernetes.io/headless"


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def selects(selector: Mapping[str, str] | None, labels: Mapping[str, str] | None) -> bool:
    """Pure: a Service selector (non-empty map) matches these pod labels."""
    return bool(selector) and all((labels or {}).get(k) == v for k, v in (selector or {}).items())


def pod_ready(pod: Mapping[str, Any]) -> bool:
    """Pure: the pod's Ready condition is True."""
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds if isinstance(c, dict))


def _serving(pod: Mapping[str, Any]) -> bool:
    status = pod.get("status") or {}
    return bool(status.get("podIP")) and not _meta(pod).get("deletionTimestamp") \
        and status.get("phase") not in ("Succeeded", "Failed")


def pod_ports(svc: Mapping[str, Any], pod: Mapping[str, Any]) -> list[Obj]:
    """Pure: the EndpointPorts of `pod` for `svc` (named targetPorts resolved on the pod)."""
    out = []
    for sp in (svc.get("spec") or {}).get("ports") or []:
        protocol = str(sp.get("protocol") or "TCP").upper()
        target = sp.get("targetPort", sp.get("port"))
        port = int(target) if isinstance(target, int) or str(target).isdigit() else \
            find_port(container_ports(pod.get("spec") or {}), str(target), protocol)
        if port:
            out.append({k: v for k, v in (("name", sp.get("name")), ("port", port), ("protocol", protocol)) if v})
    return out


def _address(pod: Mapping[str, Any]) -> Obj:
    meta = _meta(pod)
    addr: Obj = {"ip": (pod.get("status") or {}).get("podIP"),
                 "targetRef": {"kind": "Pod", "namespace": meta.get("namespace"), "name": meta.get("name"),
                               "uid": meta.get("uid")}}
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        addr["nodeName"] = node
    return addr


def manages(svc: Mapping[str, Any] | None) -> bool:
    """Pure: whether this controller keeps the Endpoints of `svc` (it has a selector, not ExternalName)."""
    spec = (svc or {}).get("spec") or {}
    return bool(spec.get("selector")) and spec.get("type") != "ExternalName"


def desired_endpoints(svc: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> Obj:
    """Pure: the Endpoints object of `svc` given the pods of its namespace."""
    spec = svc.get("spec") or {}
    publish_all = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[tuple[tuple[Any, ...], ...], dict[str, list[Obj]]] = {}
    headless = spec.get("clusterIP") == "None"
    for pod in sorted(pods, key=lambda p: str(_meta(p).get("name"))):
        if not _serving(pod) or not selects(spec.get("selector"), _meta(pod).get("labels")):
            continue
        ports = pod_ports(svc, pod)
        if not ports and not (headless and not spec.get("ports")):
            continue
        key = tuple(tuple(sorted(p.items())) for p in ports)
        group = groups.setdefault(key, {"addresses": [], "notReadyAddresses": []})
        group["addresses" if publish_all or pod_ready(pod) else "notReadyAddresses"].append(_address(pod))
    subsets = []
    for key, group in sorted(groups.items()):
        subset: Obj = {k: v for k, v in group.items() if v}
        if key:
            subset["ports"] = [dict(p) for p in key]
        subsets.append(subset)
    meta = _meta(svc)
    labels = {**(meta.get("labels") or {}), MANAGED_LABEL: MANAGER}
    if headless:
        labels[HEADLESS_LABEL] = ""
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace"), "labels": labels},
            "subsets": subsets}


def _same(have: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    return (have.get("subsets") or []) == want["subsets"] and _meta(have).get("labels") == want["metadata"]["labels"]


class EndpointsController(Controller):
    name = "endpoints"

    def __init__(self, client: Client, informers: Informers) -> None:
        super().__init__(client)
        self.services = informers.on("Service", self._on_service)
        self.endpoints = informers.on("Endpoints", self._on_service)
        self.pods = informers.on("Pod", self._on_pod)

    @staticmethod
    def _key(obj: Mapping[str, Any]) -> str:
        return f"{_meta(obj).get('namespace')}/{_meta(obj).get('name')}"

    def _on_service(self, _type: str, new: Obj | None, old: Obj | None) -> None:
        self.enqueue(self._key((new or old) or {}))

    def _on_pod(self, _type: str, new: Obj | None, old: Obj | None) -> None:
        pod = (new or old) or {}
        ns = _meta(pod).get("namespace")
        labels = [_meta(p).get("labels") for p in (new, old) if p is not None]
        for svc in self.services.items(str(ns or "")):
            if any(selects((svc.get("spec") or {}).get("selector"), lb) for lb in labels):
                self.enqueue(self._key(svc))

    def prepare(self) -> None:
        for obj in self.services.items() + self.endpoints.items():
            self.enqueue(self._key(obj))

    def reconcile(self, key: Hashable) -> None:
        namespace, name = str(key).split("/", 1)
        svc = self.services.get(name, namespace)
        have = self.writes.latest(self.endpoints, name, namespace)
        if not manages(svc):
            if have is not None and (_meta(have).get("labels") or {}).get(MANAGED_LABEL) == MANAGER:
                self._delete(namespace, name)
            return
        assert svc is not None
        pods = self.pods.items(namespace)
        want = desired_endpoints(svc, pods)
        if have is None:
            self._write(want, namespace, create=True)
        elif not _same(have, want):
            want["metadata"]["resourceVersion"] = _meta(have).get("resourceVersion")
            self._write(want, namespace, create=False)

    def _write(self, obj: Obj, namespace: str, create: bool) -> None:
        try:
            done = self.client.create(obj, namespace) if create else self.client.update(obj, namespace)
        except AlreadyExistsError:
            raise NotFoundError(f"Endpoints {namespace}/{obj['metadata']['name']} appeared; retrying") from None
        self.writes.record("Endpoints", done["metadata"]["name"], done, namespace)

    def _delete(self, namespace: str, name: str) -> None:
        try:
            deleted = self.client.delete("Endpoints", name, namespace)
            self.writes.record_delete("Endpoints", name, deleted, namespace)
        except NotFoundError:
            pass
