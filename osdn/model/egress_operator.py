"""What the cluster-network-operator makes of an EgressRouter (seed 004). Pure.

As openshift/cluster-network-operator `pkg/controller/egress_router` with its bindata
`egress-router/000-nad.yaml` and `001-deployment.yaml`: in the router's namespace the
NetworkAttachmentDefinition `egress-router-cni-nad` (type egress-router, `ip.addresses` =
addresses[0].ip, `ip.destinations` from the redirect rules as `PORT PROTO IP [TARGETPORT]`, bare
`IP` for a rule without port, `ip.fallbackIP`, `ip.gateway`, `log_file`, `log_level`; the same keys
and values in the same order, on one line) and the Deployment `egress-router-cni-deployment`
(label app=egress-router-cni, one replica, the pod template asking for the NAD in the JSON form
of `k8s.v1.cni.cncf.io/networks` with the gateway as its default route, a container sleeping
forever), both with a controller ownerReference to the EgressRouter. One difference: the CNO
ignores `networkInterface`; osdn renders `interfaceArgs` (macvlan mode and master) when they are not
the default (Bridge, the default-route interface), so they take effect; the default rendering is
the CNO's. osdn's egress-router plugin honours `ip.fallbackIP` (upstream's plugin ignores the key).

`conditions` computes the router's status conditions (Available, Progressing, Degraded) from what
exists, keeping lastTransitionTime when a status does not change.
"""

from __future__ import annotations

import json
from typing import Any

from osdn.api.timestamps import format_time

Obj = dict[str, Any]
API_VERSION = "network.operator.openshift.io/v1"
NAD_NAME = "egress-router-cni-nad"
DEPLOYMENT_NAME = "egress-router-cni-deployment"
APP = "egress-router-cni"
IMAGE = "quay.io/openshift/origin-egress-router-cni:latest"
VERSION_ANNOTATION = "release.openshift.io/version"


def owner_reference(router: Obj) -> Obj:
    meta = router["metadata"]
    return {"apiVersion": API_VERSION, "kind": "EgressRouter", "name": meta["name"], "uid": meta["uid"],
            "controller": True}


def owned_by(obj: Obj) -> str | None:
    """The uid of the EgressRouter that controls `obj`, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == "EgressRouter" and ref.get("apiVersion") == API_VERSION and ref.get("controller"):
            return str(ref.get("uid") or "")
    return None


def destinations(rules: list[Obj]) -> list[str]:
    """getAllowedDestinationsConfigJSON: the plugin's destination strings, in the rules' order."""
    out = []
    for rule in rules:
        port, proto, target = rule.get("port") or 0, rule.get("protocol") or "", rule.get("targetPort") or 0
        if port and proto:
            out.append(f"{port} {proto} {rule.get('destinationIP')}" + (f" {target}" if target else ""))
        else:
            out.append(str(rule.get("destinationIP")))
    return out


def nad_config(router: Obj) -> str:
    spec = router["spec"]
    address = (spec.get("addresses") or [{}])[0]
    redirect = spec.get("redirect") or {}
    ip: Obj = {"addresses": [address.get("ip", "")], "destinations": destinations(redirect.get("redirectRules") or [])}
    if redirect.get("fallbackIP"):
        ip["fallbackIP"] = redirect["fallbackIP"]
    ip["gateway"] = address.get("gateway", "")
    conf: Obj = {"cniVersion": "0.4.0", "type": "egress-router", "name": NAD_NAME, "ip": ip}
    macvlan = (spec.get("networkInterface") or {}).get("macvlan") or {}
    if macvlan.get("master") or macvlan.get("mode", "Bridge") != "Bridge":
        args = {"mode": str(macvlan.get("mode", "Bridge")).lower()}
        conf["interfaceArgs"] = {**args, **({"master": macvlan["master"]} if macvlan.get("master") else {})}
    conf.update({"log_file": "/tmp/egress-router-log", "log_level": "debug"})
    return json.dumps(conf)


def _meta(router: Obj, name: str, version: str, labels: Obj | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": router["metadata"]["namespace"],
                 "annotations": {VERSION_ANNOTATION: version}}
    if labels:
        meta["labels"] = labels
    meta["ownerReferences"] = [owner_reference(router)]
    return meta


def render_nad(router: Obj, version: str) -> Obj:
    return {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
            "metadata": _meta(router, NAD_NAME, version), "spec": {"config": nad_config(router)}}


def networks_annotation(gateway: str) -> str:
    """The pod template's `k8s.v1.cni.cncf.io/networks`, as the CNO's YAML block renders it."""
    return f'[\n  {{\n    "name":"{NAD_NAME}",\n    "default-route": ["{gateway}"]\n  }}\n]\n'


def render_deployment(router: Obj, version: str, image: str = IMAGE) -> Obj:
    gateway = ((router["spec"].get("addresses") or [{}])[0]).get("gateway", "")
    labels = {"app": APP}
    template = {
        "metadata": {"labels": dict(labels), "annotations": {
            "target.workload.openshift.io/management": '{"effect": "PreferredDuringScheduling"}',
            "k8s.v1.cni.cncf.io/networks": networks_annotation(gateway)}},
        "spec": {"containers": [{"name": "egress-router-cni-pod", "image": image,
                                 "command": ["/bin/sh", "-c", "sleep infinity"],
                                 "terminationMessagePolicy": "FallbackToLogsOnError",
                                 "resources": {"requests": {"cpu": "100m"}}}]}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(router, DEPLOYMENT_NAME, version, labels),
            "spec": {"replicas": 1, "selector": {"matchLabels": dict(labels)}, "template": template}}


def covers(have: Any, want: Any) -> bool:
    """True if every field of `want` is in `have` with the same value (defaulted extras allowed)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(covers(have.get(k), v) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(have) == len(want) and all(map(covers, have, want))
    return bool(have == want)


def overlay(have: Any, want: Any) -> Any:
    """`have` with `want`'s fields written over it (objects merged, lists and values replaced)."""
    if isinstance(want, dict) and isinstance(have, dict):
        return {**have, **{k: overlay(have.get(k), v) for k, v in want.items()}}
    return want


def conditions(old: list[Obj], available: bool, problem: str, now: float) -> list[Obj]:
    """Available / Progressing / Degraded for the router; `problem` non-empty: Degraded with it."""
    if problem:
        want = [("Available", "False", "Degraded", problem), ("Progressing", "False", "Degraded", ""),
                ("Degraded", "True", "EgressRouterError", problem)]
    elif available:
        want = [("Available", "True", "", ""), ("Progressing", "False", "", ""), ("Degraded", "False", "", "")]
    else:
        why = f"Deployment {DEPLOYMENT_NAME} has no available replica yet"
        want = [("Available", "False", "Deploying", why), ("Progressing", "True", "Deploying", why),
                ("Degraded", "False", "", "")]
    before = {c.get("type"): c for c in old}
    out = []
    for kind, status, reason, message in want:
        prev = before.get(kind) or {}
        cond: Obj = {"type": kind, "status": status, "lastTransitionTime": prev.get("lastTransitionTime")
                     if prev.get("status") == status else format_time(now)}
        cond.update({k: v for k, v in (("reason", reason), ("message", message)) if v})
        out.append(cond)
    return out
