"""Pod (core/v1): the Pod and PodTemplateSpec models, defaulting and validation, also used for pod
templates (RC, ReplicaSet, Deployment).

Pure. The pod-spec models are in `podtypes.py`, kube's spec rules in `podspec.py` (with
`podcontainers.py`, `podvolumes.py`, `podresources.py`) and the update rules in `podupdate.py`. A spec
an update leaves unchanged is not judged again (rules added since it was stored must not block status
or metadata writes). Besides the Kubernetes rules this checks the annotations osdn acts on:
`kubernetes.io/{ingress,egress}-bandwidth` (quantities in bits/s within [1k, 1P]) and
`pod.network.openshift.io/assign-macvlan` ("true" or an interface name; needs a privileged container).
"""

from __future__ import annotations

import contextlib
import copy
import re
from fractions import Fraction
from typing import Any

from pydantic import Field

from osdn.api import validation as v
from osdn.api.kinds.meta import (
    KubeModel,
    Obj,
    ObjectMeta,
    TypedObject,
    items,
    parse_strict,
    set_default,
    sub,
)
from osdn.api.kinds.podspec import validate_pod_spec
from osdn.api.kinds.podtypes import (
    Container,
    ContainerPort,
    EnvVar,
    EnvVarSource,
    PodSpec,
    ResourceFieldSelector,
    SecurityContext,
)
from osdn.api.kinds.podupdate import validate_pod_update
from osdn.api.quantity import QuantityError, parse_quantity, quantity_text
from osdn.errors import FieldError

__all__ = ["BANDWIDTH_ANNOTATIONS", "MACVLAN_ANNOTATION", "Container", "ContainerPort", "EnvVar", "EnvVarSource",
           "Pod", "PodSpec", "PodStatus", "PodTemplateSpec", "ResourceFieldSelector", "SecurityContext",
           "bandwidth_problem", "default_pod", "default_pod_spec", "default_pull_policy", "pod_is_privileged",
           "qos_class", "validate_pod", "validate_template"]

MACVLAN_ANNOTATION = "pod.network.openshift.io/assign-macvlan"
BANDWIDTH_ANNOTATIONS = ("kubernetes.io/ingress-bandwidth", "kubernetes.io/egress-bandwidth")
_IFNAME = re.compile(r"^[^/\s:]{1,15}$")
_MIN_BANDWIDTH, _MAX_BANDWIDTH = 1000, 10 ** 15


class PodStatus(KubeModel):
    phase: str | None = None
    host_ip: str | None = Field(None, alias="hostIP")
    pod_ip: str | None = Field(None, alias="podIP")


class Pod(TypedObject):
    spec: PodSpec | None = None
    status: PodStatus | None = None

    @property
    def privileged(self) -> bool:
        return pod_is_privileged(self.spec)


class PodTemplateSpec(KubeModel):
    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None


def pod_is_privileged(spec: PodSpec | None) -> bool:
    if spec is None:
        return False
    containers = (spec.containers or []) + (spec.init_containers or [])
    return any(c.security_context is not None and c.security_context.privileged for c in containers)


# ---- defaulting

def default_pull_policy(image: Any) -> str:
    """Kubernetes' default imagePullPolicy: Always for the tag `latest`, also when an image names no
    tag and no digest (which means latest); IfNotPresent otherwise."""
    if not isinstance(image, str):
        return "IfNotPresent"
    name, digest_sep, _ = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    return "Always" if tag == "latest" or (not tag and not digest_sep) else "IfNotPresent"


def _default_empty(obj: Obj, key: str, value: Any) -> None:
    """obj[key] = value when absent, null or "" (Go's zero value, which kube's defaulting replaces)."""
    if obj.get(key) in (None, ""):
        obj[key] = value


def default_pod_spec(spec: Any) -> None:
    """Kubernetes pod-spec defaults, in place: restartPolicy Always, dnsPolicy ClusterFirst, a 30 s grace
    period, imagePullPolicy by tag, port protocol TCP. Deliberately no others (kube also defaults probe
    periods, terminationMessagePolicy, volume modes): a default added to stored templates would make the
    next write of every Deployment differ from its ReplicaSet and roll all its pods; validation reads an
    unset value as kube's default instead."""
    if not isinstance(spec, dict):
        return
    _default_empty(spec, "restartPolicy", "Always")
    _default_empty(spec, "dnsPolicy", "ClusterFirst")
    set_default(spec, "terminationGracePeriodSeconds", 30)
    for container in items(spec, "containers") + items(spec, "initContainers"):
        set_default(container, "terminationMessagePath", "/dev/termination-log")
        _default_empty(container, "imagePullPolicy", default_pull_policy(container.get("image")))
        for port in items(container, "ports"):
            _default_empty(port, "protocol", "TCP")


def default_host_ports(spec: Any) -> None:
    """SetDefaults_Pod: with hostNetwork, a port's hostPort is its containerPort (pods, not templates)."""
    if isinstance(spec, dict) and spec.get("hostNetwork") is True:
        for container in items(spec, "containers") + items(spec, "initContainers"):
            for port in items(container, "ports"):
                if not port.get("hostPort"):
                    port["hostPort"] = port.get("containerPort")


def _positive(resources: Any, key: str) -> dict[str, Fraction]:
    """The cpu and memory amounts above zero of resources[key] (a bad quantity, which validation
    refuses, counts as none)."""
    out: dict[str, Fraction] = {}
    for name, text in ((sub(resources, key) or {}).items()):
        if name in ("cpu", "memory"):
            with contextlib.suppress(QuantityError):
                if (amount := parse_quantity(quantity_text(text)).amount) > 0:
                    out[name] = amount
    return out


def qos_class(spec: Obj) -> str:
    """kube's ComputePodQOS: BestEffort without cpu/memory requests or limits; Guaranteed when every
    container limits both and the summed requests (defaulted from limits, as kube defaults them)
    equal the summed limits; else Burstable."""
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for container in items(spec, "containers") + items(spec, "initContainers"):
        lim = _positive(container.get("resources"), "limits")
        req = {**lim, **_positive(container.get("resources"), "requests")}
        for total, part in ((requests, req), (limits, lim)):
            for name, amount in part.items():
                total[name] = total.get(name, Fraction(0)) + amount
        guaranteed = guaranteed and lim.keys() >= {"cpu", "memory"}
    if not requests and not limits:
        return "BestEffort"
    return "Guaranteed" if guaranteed and requests == limits else "Burstable"


def default_pod(obj: Obj) -> None:
    """Spec defaults, and status.phase Pending until a node reports one (kube-apiserver sets it on create,
    so `--field-selector status.phase=Pending` and `describe` see it), with the pod's qosClass."""
    default_pod_spec(spec := sub(obj, "spec"))
    default_host_ports(spec)
    status = obj.setdefault("status", {})
    if isinstance(status, dict):
        set_default(status, "phase", "Pending")
        if spec is not None:
            set_default(status, "qosClass", qos_class(spec))


# ---- validation

def bandwidth_problem(text: str) -> str | None:
    """Why a bandwidth annotation value is not acceptable (k8s wording), or None."""
    try:
        bits = parse_quantity(text).value()
    except QuantityError as e:
        return f"failed to parse pod bandwidth: {e}"
    if bits < _MIN_BANDWIDTH:
        return "resource is unreasonably small (< 1kbit)"
    if bits > _MAX_BANDWIDTH:
        return "resource is unreasonably large (> 1Pbit)"
    return None


def validate_pod_annotations(meta: ObjectMeta | None, spec: PodSpec | None, path: str) -> list[FieldError]:
    """The osdn pod annotations: bandwidth limits and macvlan (egress router)."""
    annotations = (meta.annotations if meta else None) or {}
    errs: list[FieldError] = []
    for key in BANDWIDTH_ANNOTATIONS:
        if key in annotations:
            problem = bandwidth_problem(annotations[key])
            if problem:
                errs.append(v.invalid(f"{path}[{key}]", annotations[key], problem))
    macvlan = annotations.get(MACVLAN_ANNOTATION)
    if macvlan is not None:
        if macvlan != "true" and not _IFNAME.match(macvlan):
            errs.append(v.invalid(f"{path}[{MACVLAN_ANNOTATION}]", macvlan,
                                  'must be "true" or the name of a network interface'))
        if not pod_is_privileged(spec):
            errs.append(FieldError(f"{path}[{MACVLAN_ANNOTATION}]",
                                   f'pod has "{MACVLAN_ANNOTATION}" annotation but is not privileged'))
    return errs


def _unchanged(new: Any, old: Any, default: Any) -> bool:
    """Whether `new` equals `old` once `old` gets today's defaults (an unchanged spec was accepted when
    it was written: status and metadata writes must not fail on a rule added since)."""
    if old is None:
        return False
    before = copy.deepcopy(old)
    default(before)
    return bool(new == before)


def _default_pod_copy(spec: Any) -> None:
    default_pod_spec(spec)
    default_host_ports(spec)


def validate_pod(obj: Obj, old: Obj | None) -> list[FieldError]:
    pod, errs = parse_strict(Pod, obj)
    if pod is None:
        return errs
    annotations = validate_pod_annotations(pod.metadata, pod.spec, "metadata.annotations")
    new_spec, old_spec = sub(obj, "spec"), sub(old, "spec")
    if _unchanged(new_spec, old_spec, _default_pod_copy):
        return annotations
    errs = validate_pod_spec(pod.spec, "spec") + annotations
    if old_spec is not None and new_spec is not None and not errs:
        before = copy.deepcopy(old_spec)
        _default_pod_copy(before)
        errs = validate_pod_update(new_spec, before)
    return errs


def validate_template(template: PodTemplateSpec | None, path: str, obj: Obj | None = None,
                      old: Obj | None = None) -> list[FieldError]:
    """A pod template at `path` ("spec.template"); `obj`/`old` (the whole new and stored objects) let
    an unchanged template of a stored object pass rules added since it was written."""
    if template is None:
        return [v.required(path)]
    errs = validate_pod_annotations(template.metadata, template.spec, f"{path}.metadata.annotations")
    new_spec = sub(sub(sub(obj, "spec"), "template"), "spec")
    if _unchanged(new_spec, sub(sub(sub(old, "spec"), "template"), "spec"), default_pod_spec):
        return errs
    return validate_pod_spec(template.spec, f"{path}.spec", is_pod=False) + errs
