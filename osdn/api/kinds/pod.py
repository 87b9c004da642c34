"""Pod (core/v1): models, defaulting and validation, also used for pod templates (RC, Deployment).

Pure. Besides the Kubernetes pod-spec rules this checks the annotations osdn acts on:
`kubernetes.io/{ingress,egress}-bandwidth` (quantities in bits/s within [1k, 1P]) and
`pod.network.openshift.io/assign-macvlan` ("true" or an interface name; needs a privileged container).
"""

from __future__ import annotations

import contextlib
import re
from fractions import Fraction
from typing import Any

from pydantic import Field

from osdn.api import validation as v
from osdn.api.kinds.meta import (
    Int32,
    KubeModel,
    Obj,
    ObjectMeta,
    TypedObject,
    items,
    parse_strict,
    set_default,
    sub,
    validate_label_map,
)
from osdn.api.quantity import QuantityError, parse_quantity
from osdn.errors import FieldError

MACVLAN_ANNOTATION = "pod.network.openshift.io/assign-macvlan"
BANDWIDTH_ANNOTATIONS = ("kubernetes.io/ingress-bandwidth", "kubernetes.io/egress-bandwidth")
RESTART_POLICIES = ("Always", "OnFailure", "Never")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_IFNAME = re.compile(r"^[^/\s:]{1,15}$")
_FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels",
                "metadata.annotations", "spec.nodeName", "spec.serviceAccountName", "status.hostIP",
                "status.hostIPs", "status.podIP", "status.podIPs")
_MIN_BANDWIDTH, _MAX_BANDWIDTH = 1000, 10 ** 15


class ContainerPort(KubeModel):
    name: str | None = None
    container_port: Int32 | None = None
    host_port: Int32 | None = None
    host_ip: str | None = Field(None, alias="hostIP")
    protocol: str | None = None


class KeySelector(KubeModel):
    name: str | None = None
    key: str | None = None
    optional: bool | None = None


class ObjectFieldSelector(KubeModel):
    api_version: str | None = None
    field_path: str | None = None


class ResourceFieldSelector(KubeModel):
    container_name: str | None = None
    resource: str | None = None


class EnvVarSource(KubeModel):
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    config_map_key_ref: KeySelector | None = None
    secret_key_ref: KeySelector | None = None


class EnvVar(KubeModel):
    name: str | None = None
    value: str | None = None
    value_from: EnvVarSource | None = None


class SecurityContext(KubeModel):
    privileged: bool | None = None
    run_as_user: int | None = None
    allow_privilege_escalation: bool | None = None


class Container(KubeModel):
    name: str | None = None
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    ports: list[ContainerPort] | None = None
    env: list[EnvVar] | None = None
    security_context: SecurityContext | None = None


class PodSpec(KubeModel):
    containers: list[Container] | None = None
    init_containers: list[Container] | None = None
    restart_policy: str | None = None
    active_deadline_seconds: int | None = None
    node_name: str | None = None
    node_selector: dict[str, str] | None = None
    host_network: bool | None = None
    service_account_name: str | None = None


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


def default_pod_spec(spec: Any) -> None:
    """Kubernetes pod-spec defaults, in place: restartPolicy Always, port protocol TCP, ..."""
    if not isinstance(spec, dict):
        return
    set_default(spec, "restartPolicy", "Always")
    set_default(spec, "dnsPolicy", "ClusterFirst")
    set_default(spec, "terminationGracePeriodSeconds", 30)
    for container in items(spec, "containers") + items(spec, "initContainers"):
        set_default(container, "terminationMessagePath", "/dev/termination-log")
        set_default(container, "imagePullPolicy", default_pull_policy(container.get("image")))
        for port in items(container, "ports"):
            set_default(port, "protocol", "TCP")


def _positive(resources: Any, key: str) -> dict[str, Fraction]:
    """The cpu and memory amounts above zero of resources[key] (a bad quantity, which validation
    refuses, counts as none)."""
    out: dict[str, Fraction] = {}
    for name, text in ((sub(resources, key) or {}).items()):
        if name in ("cpu", "memory"):
            with contextlib.suppress(QuantityError):
                if (amount := parse_quantity(text).amount) > 0:
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
    status = obj.setdefault("status", {})
    if isinstance(status, dict):
        set_default(status, "phase", "Pending")
        if spec is not None:
            set_default(status, "qosClass", qos_class(spec))


# ---- validation

def validate_env(env: EnvVar, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not env.name:
        errs.append(v.required(f"{path}.name"))
    elif not _ENV_NAME.match(env.name):
        errs.append(v.invalid(f"{path}.name", env.name, "a valid environment variable name must consist of "
                              "alphabetic characters, digits, '_', '-', or '.', and must not start with a digit"))
    if env.value_from is None:
        return errs
    if env.value:
        errs.append(FieldError(f"{path}.valueFrom", "may not be specified when `value` is not empty"))
    return errs + _validate_env_source(env.value_from, f"{path}.valueFrom")


def _validate_env_source(src: EnvVarSource, path: str) -> list[FieldError]:
    sources = [(n, s) for n, s in (("fieldRef", src.field_ref), ("resourceFieldRef", src.resource_field_ref),
                                   ("configMapKeyRef", src.config_map_key_ref),
                                   ("secretKeyRef", src.secret_key_ref)) if s is not None]
    if not sources:
        return [FieldError(path, "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` "
                           "or `secretKeyRef`")]
    if len(sources) > 1:
        return [FieldError(path, "may not have more than one field specified at a time")]
    name, ref = sources[0]
    p = f"{path}.{name}"
    if isinstance(ref, KeySelector):
        errs = [] if ref.name else [v.required(f"{p}.name")]
        return errs + ([] if ref.key else [v.required(f"{p}.key")])
    if isinstance(ref, ObjectFieldSelector):
        return _validate_field_path(ref.field_path, f"{p}.fieldPath")
    if isinstance(ref, ResourceFieldSelector) and not ref.resource:
        return [v.required(f"{p}.resource")]
    return []


def _validate_field_path(field_path: str | None, path: str) -> list[FieldError]:
    if not field_path:
        return [v.required(path)]
    base = field_path.split("[", 1)[0]
    if base not in _FIELD_PATHS or ("[" in field_path and base not in ("metadata.labels", "metadata.annotations")):
        return [v.not_supported(path, field_path, _FIELD_PATHS)]
    return []


def validate_container(c: Container, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not c.name:
        errs.append(v.required(f"{path}.name"))
    else:
        errs += v.validate_dns1123_label(c.name, f"{path}.name")
    if not c.image:
        errs.append(v.required(f"{path}.image"))
    port_names: set[str] = set()
    for i, port in enumerate(c.ports or []):
        p = f"{path}.ports[{i}]"
        errs += v.validate_port_number(port.container_port, f"{p}.containerPort")
        if port.host_port:
            errs += v.validate_port_number(port.host_port, f"{p}.hostPort")
        errs += v.validate_protocol(port.protocol, f"{p}.protocol")
        if port.name is not None:
            errs += v.validate_port_name(port.name, f"{p}.name")
            if port.name in port_names:
                errs.append(v.duplicate(f"{p}.name", port.name))
            port_names.add(port.name)
    for i, env in enumerate(c.env or []):
        errs += validate_env(env, f"{path}.env[{i}]")
    return errs


def validate_pod_spec(spec: PodSpec | None, path: str) -> list[FieldError]:
    if spec is None:
        return [v.required(path)]
    errs: list[FieldError] = []
    if not spec.containers:
        errs.append(v.required(f"{path}.containers"))
    seen: set[str] = set()
    for field, group in (("initContainers", spec.init_containers or []), ("containers", spec.containers or [])):
        for i, c in enumerate(group):
            errs += validate_container(c, f"{path}.{field}[{i}]")
            if c.name and c.name in seen:
                errs.append(v.duplicate(f"{path}.{field}[{i}].name", c.name))
            seen.add(c.name or "")
    if spec.restart_policy not in RESTART_POLICIES:
        errs.append(v.not_supported(f"{path}.restartPolicy", spec.restart_policy, RESTART_POLICIES))
    if spec.active_deadline_seconds is not None and not 1 <= spec.active_deadline_seconds <= 2 ** 31 - 1:
        errs.append(v.invalid(f"{path}.activeDeadlineSeconds", spec.active_deadline_seconds,
                              "must be between 1 and 2147483647, inclusive"))
    if spec.node_name:
        errs += v.validate_dns1123_subdomain(spec.node_name, f"{path}.nodeName")
    return errs + validate_label_map(spec.node_selector, f"{path}.nodeSelector")


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


def validate_pod(obj: Obj, old: Obj | None) -> list[FieldError]:
    pod, errs = parse_strict(Pod, obj)
    if pod is None:
        return errs
    return validate_pod_spec(pod.spec, "spec") + validate_pod_annotations(pod.metadata, pod.spec,
                                                                           "metadata.annotations")


def validate_template(template: PodTemplateSpec | None, path: str) -> list[FieldError]:
    if template is None:
        return [v.required(path)]
    return (validate_pod_spec(template.spec, f"{path}.spec")
            + validate_pod_annotations(template.metadata, template.spec, f"{path}.metadata.annotations"))
