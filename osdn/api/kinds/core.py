"""Kinds of group 'core' (v1): models, defaulting and validation. Pure.

Namespace, ConfigMap, ReplicationController, Node and Event live here; Pod is in `kinds/pod.py`,
Secret in `kinds/secret.py`, ServiceAccount in `kinds/serviceaccount.py` and Service/Endpoints in
`kinds/service.py`; all are re-exported, as is the shared `ObjectMeta`.
"""

from __future__ import annotations

import re

from pydantic import Field

from osdn.api import validation as v
from osdn.api.kinds import Hooks
from osdn.api.kinds.meta import (
    Int32,
    KubeModel,
    LabelSelector,
    Obj,
    ObjectMeta,
    TypedObject,
    parse_strict,
    set_default,
    sub,
    validate_label_map,
)
from osdn.api.kinds.pod import (
    Container,
    ContainerPort,
    EnvVar,
    EnvVarSource,
    Pod,
    PodSpec,
    PodStatus,
    PodTemplateSpec,
    SecurityContext,
    default_pod,
    default_pod_spec,
    validate_pod,
    validate_template,
)
from osdn.api.kinds.secret import Secret, default_secret, validate_secret
from osdn.api.kinds.service import (
    EndpointAddress,
    EndpointPort,
    Endpoints,
    EndpointSubset,
    Service,
    ServicePort,
    ServiceSpec,
    default_endpoints,
    default_service,
    validate_endpoints,
    validate_service,
)
from osdn.api.kinds.serviceaccount import ServiceAccount, validate_service_account
from osdn.errors import FieldError

__all__ = ["ConfigMap", "Container", "ContainerPort", "EndpointAddress", "EndpointPort", "Endpoints",
           "EndpointSubset", "EnvVar", "EnvVarSource", "Event", "HOOKS", "LabelSelector", "Namespace", "Node",
           "NodeAddress", "ObjectMeta", "Pod", "PodSpec", "PodStatus", "PodTemplateSpec", "ReplicationController",
           "ReplicationControllerSpec", "Secret", "SecurityContext", "Service", "ServiceAccount", "ServicePort",
           "ServiceSpec"]

_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
NODE_ADDRESS_TYPES = ("Hostname", "ExternalIP", "InternalIP", "ExternalDNS", "InternalDNS")
EVENT_TYPES = ("Normal", "Warning")
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"   # every Namespace's own name (kube >= 1.21)


class Namespace(TypedObject):
    spec: dict[str, object] | None = None
    status: dict[str, object] | None = None


class ConfigMap(TypedObject):
    data: dict[str, str] | None = None
    binary_data: dict[str, str] | None = None
    immutable: bool | None = None


class ReplicationControllerSpec(KubeModel):
    replicas: Int32 | None = None
    selector: dict[str, str] | None = None
    template: PodTemplateSpec | None = None


class ReplicationController(TypedObject):
    spec: ReplicationControllerSpec | None = None
    status: dict[str, object] | None = None


class NodeAddress(KubeModel):
    type: str | None = None
    address: str | None = None


class NodeSpec(KubeModel):
    pod_cidr: str | None = Field(None, alias="podCIDR")
    unschedulable: bool | None = None


class NodeStatus(KubeModel):
    addresses: list[NodeAddress] | None = None


class Node(TypedObject):
    spec: NodeSpec | None = None
    status: NodeStatus | None = None

    def internal_ip(self) -> str | None:
        for addr in (self.status.addresses if self.status else None) or []:
            if addr.type == "InternalIP":
                return addr.address
        return None


class Event(TypedObject):
    type: str | None = None
    reason: str | None = None
    message: str | None = None
    involved_object: dict[str, object] | None = None


# ---- ConfigMap

def validate_config_map(obj: Obj, old: Obj | None) -> list[FieldError]:
    cm, errs = parse_strict(ConfigMap, obj)
    if cm is None:
        return errs
    seen: set[str] = set()
    for field, data in (("data", cm.data), ("binaryData", cm.binary_data)):
        for key in data or {}:
            if len(key) > 253 or not _CONFIG_KEY.match(key):
                errs.append(v.invalid(f"{field}[{key}]", key, "a valid config key must consist of alphanumeric "
                                      "characters, '-', '_' or '.'"))
            if key in seen:
                errs.append(v.duplicate(f"{field}[{key}]", key))
            seen.add(key)
    return errs


# ---- ReplicationController

def default_rc(obj: Obj) -> None:
    spec = sub(obj, "spec")
    if spec is None:
        return
    set_default(spec, "replicas", 1)
    template = sub(spec, "template")
    template_labels = sub(sub(template, "metadata"), "labels")
    if not spec.get("selector") and template_labels:
        spec["selector"] = dict(template_labels)
    meta = obj.get("metadata")
    if isinstance(meta, dict) and not meta.get("labels") and template_labels:
        meta["labels"] = dict(template_labels)
    default_pod_spec(sub(template, "spec"))


def validate_rc(obj: Obj, old: Obj | None) -> list[FieldError]:
    rc, errs = parse_strict(ReplicationController, obj)
    if rc is None:
        return errs
    spec = rc.spec
    if spec is None:
        return [v.required("spec")]
    errs += v.validate_non_negative(spec.replicas, "spec.replicas")
    if not spec.selector:
        errs.append(v.required("spec.selector"))
    errs += validate_label_map(spec.selector, "spec.selector")
    errs += validate_template(spec.template, "spec.template", obj, old)
    if spec.template is None:
        return errs
    template_labels = (spec.template.metadata.labels if spec.template.metadata else None) or {}
    if spec.selector and any(template_labels.get(k) != val for k, val in spec.selector.items()):
        errs.append(v.invalid("spec.template.metadata.labels", template_labels,
                              "`selector` does not match template `labels`"))
    policy = spec.template.spec.restart_policy if spec.template.spec else None
    if policy is not None and policy != "Always":
        errs.append(v.not_supported("spec.template.spec.restartPolicy", policy, ["Always"]))
    if spec.template.spec is not None and spec.template.spec.active_deadline_seconds is not None:
        errs.append(v.forbidden("spec.template.spec.activeDeadlineSeconds",
                                "activeDeadlineSeconds in ReplicationController is not Supported"))
    return errs


# ---- Node

def validate_node(obj: Obj, old: Obj | None) -> list[FieldError]:
    node, errs = parse_strict(Node, obj)
    if node is None:
        return errs
    if node.spec and node.spec.pod_cidr:
        errs += v.validate_cidr(node.spec.pod_cidr, "spec.podCIDR")
    for i, addr in enumerate((node.status.addresses if node.status else None) or []):
        p = f"status.addresses[{i}]"
        if addr.type not in NODE_ADDRESS_TYPES:
            errs.append(v.not_supported(f"{p}.type", addr.type, NODE_ADDRESS_TYPES))
        if not addr.address:
            errs.append(v.required(f"{p}.address"))
        elif addr.type in ("InternalIP", "ExternalIP") and v.parse_ip(addr.address) is None:
            errs.append(v.invalid(f"{p}.address", addr.address, "must be a valid IP address"))
    return errs


# ---- Namespace and Event

def default_namespace(obj: Obj) -> None:
    """status.phase Active, as kube-apiserver sets it on create (`kubectl describe ns` shows Status),
    spec.finalizers ["kubernetes"] as kube writes it (osdn empties a namespace before it goes), and the
    label kubernetes.io/metadata.name=<name> on every write, over any value sent (kube >= 1.21)."""
    meta = obj["metadata"]   # validate_metadata checked: a dict with a name, labels a map or absent
    meta["labels"] = {**(meta.get("labels") or {}), NAMESPACE_NAME_LABEL: meta["name"]}
    status = obj.setdefault("status", {})
    if isinstance(status, dict):
        set_default(status, "phase", "Active")
    spec = obj.setdefault("spec", {})
    if isinstance(spec, dict):
        set_default(spec, "finalizers", ["kubernetes"])


def validate_namespace(obj: Obj, old: Obj | None) -> list[FieldError]:
    ns, errs = parse_strict(Namespace, obj)
    return errs if ns is None else v.validate_deadline_override(ns.metadata.annotations)


def validate_event(obj: Obj, old: Obj | None) -> list[FieldError]:
    event, errs = parse_strict(Event, obj)
    if event is not None and event.type is not None and event.type not in EVENT_TYPES:
        errs.append(v.not_supported("type", event.type, EVENT_TYPES))
    return errs


HOOKS: dict[str, Hooks] = {
    "Namespace": Hooks(Namespace, default_namespace, validate_namespace),
    "Pod": Hooks(Pod, default_pod, validate_pod),
    "Service": Hooks(Service, default_service, validate_service),
    "Endpoints": Hooks(Endpoints, default_endpoints, validate_endpoints),
    "ConfigMap": Hooks(ConfigMap, None, validate_config_map),
    "Secret": Hooks(Secret, default_secret, validate_secret),
    "ServiceAccount": Hooks(ServiceAccount, None, validate_service_account),
    "ReplicationController": Hooks(ReplicationController, default_rc, validate_rc),
    "Node": Hooks(Node, None, validate_node),
    "Event": Hooks(Event, None, validate_event),
}
