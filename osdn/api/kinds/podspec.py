"""A pod spec (of a Pod, or of the pod template of an RC, ReplicaSet or Deployment), checked as
kube-apiserver's ValidatePodSpec checks it. Pure; linear in the size of the spec.

Containers (names unique across containers and initContainers), volumes, restartPolicy, dnsPolicy,
terminationGracePeriodSeconds (required, at least 0), activeDeadlineSeconds, nodeSelector, hostname and
subdomain, serviceAccountName, nodeName, tolerations and the hostNetwork port rule. Init containers may
not have probes or lifecycle hooks unless `restartPolicy: Always` (a sidecar); regular containers may
not set a restartPolicy. Messages and field paths are upstream's.
"""

from __future__ import annotations

from osdn.api import validation as v
from osdn.api.kinds.podcontainers import validate_container_common, validate_probes_and_hooks
from osdn.api.kinds.podtypes import Container, PodSpec, Toleration, Volume
from osdn.api.kinds.podvolumes import validate_volumes
from osdn.errors import FieldError

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
TOLERATION_OPERATORS = ("Equal", "Exists")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
MAX_INT32 = 2 ** 31 - 1


def _host_ports(containers: list[Container], path: str) -> list[FieldError]:
    """checkHostPortConflicts: one protocol/hostIP/hostPort per pod."""
    seen: set[str] = set()
    errs: list[FieldError] = []
    for i, c in enumerate(containers):
        for j, port in enumerate(c.ports or []):
            if port.host_port:
                key = f"{port.protocol or ''}/{port.host_ip or ''}/{port.host_port}"
                errs += [v.duplicate(f"{path}[{i}].ports[{j}].hostPort", key)] if key in seen else []
                seen.add(key)
    return errs


def _containers(spec: PodSpec, volumes: dict[str, Volume], path: str) -> list[FieldError]:
    """validateContainers: the regular containers (at least one, names unique among them)."""
    containers = spec.containers or []
    if not containers:
        return [v.required(f"{path}.containers")]
    errs: list[FieldError] = []
    names: set[str] = set()
    grace = spec.termination_grace_period_seconds
    for i, c in enumerate(containers):
        p = f"{path}.containers[{i}]"
        errs += validate_container_common(c, volumes, p)
        errs += [v.duplicate(f"{p}.name", c.name or "")] if (c.name or "") in names else []
        names.add(c.name or "")
        errs += validate_probes_and_hooks(c, grace, p)
        if c.restart_policy is not None:
            errs.append(v.forbidden(f"{p}.restartPolicy", "may not be set for non-init containers"))
    return errs + _host_ports(containers, f"{path}.containers")


def _init_containers(spec: PodSpec, volumes: dict[str, Volume], path: str) -> list[FieldError]:
    """validateInitContainers: names unique across init and regular containers; sidecars
    (`restartPolicy: Always`) may have probes and hooks, others may not."""
    errs: list[FieldError] = []
    names = {c.name or "" for c in spec.containers or []}
    for i, c in enumerate(spec.init_containers or []):
        p = f"{path}.initContainers[{i}]"
        errs += validate_container_common(c, volumes, p)
        if c.restart_policy is not None and c.restart_policy != "Always":
            errs.append(v.not_supported(f"{p}.restartPolicy", c.restart_policy, ["Always"]))
        if (c.name or "") in names:
            errs.append(v.duplicate(f"{p}.name", c.name or ""))
        elif c.name:
            names.add(c.name)
        errs += _host_ports([c], f"{path}.initContainers")
        if c.restart_policy == "Always":
            errs += validate_probes_and_hooks(c, spec.termination_grace_period_seconds, p)
            continue
        for name, value in (("lifecycle", c.lifecycle), ("livenessProbe", c.liveness_probe),
                            ("readinessProbe", c.readiness_probe), ("startupProbe", c.startup_probe)):
            if value is not None:
                errs.append(v.forbidden(f"{p}.{name}", "may not be set for init containers without restartPolicy=Always"))
    return errs


def validate_tolerations(tolerations: list[Toleration] | None, path: str) -> list[FieldError]:
    """ValidateTolerations."""
    errs: list[FieldError] = []
    for i, t in enumerate(tolerations or []):
        p = f"{path}[{i}]"
        key, op, value, effect = t.key or "", t.operator or "", t.value or "", t.effect or ""
        errs += v.invalid_each(f"{p}.key", key, v.qualified_name_problems(key)) if key else []
        if not key and op != "Exists":
            errs.append(v.invalid(f"{p}.operator", op, 'operator must be Exists when `key` is empty, which means '
                                  '"match all values and all keys"'))
        if t.toleration_seconds is not None and effect != "NoExecute":
            errs.append(v.invalid(f"{p}.effect", effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op in ("Equal", ""):
            problems = v.label_value_problems(value)
            errs += [v.invalid(f"{p}.operator", value, ";".join(problems))] if problems else []
        elif op == "Exists":
            errs += [v.invalid(f"{p}.operator", value, "value must be empty when `operator` is 'Exists'")] if value else []
        else:
            errs.append(v.not_supported(f"{p}.operator", op, TOLERATION_OPERATORS))
        if effect and effect not in TAINT_EFFECTS:
            errs.append(v.not_supported(f"{p}.effect", effect, TAINT_EFFECTS))
    return errs


def _enums(spec: PodSpec, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for field, value, allowed in (("restartPolicy", spec.restart_policy, RESTART_POLICIES),
                                  ("dnsPolicy", spec.dns_policy, DNS_POLICIES)):
        errs += [] if value in allowed else [v.not_supported(f"{path}.{field}", value, allowed)]   # defaulted
    if spec.dns_policy == "None":
        if spec.dns_config is None:
            errs.append(v.required(f"{path}.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"))
        elif not spec.dns_config.get("nameservers"):
            errs.append(v.required(f"{path}.dnsConfig.nameservers",
                                   "must provide at least one DNS nameserver when `dnsPolicy` is None"))
    return errs


def validate_node_selector(selector: dict[str, str] | None, path: str) -> list[FieldError]:
    """unversionedvalidation.ValidateLabels (its errors name the map, not the key)."""
    errs: list[FieldError] = []
    for key, value in (selector or {}).items():
        errs += v.invalid_each(path, key, v.qualified_name_problems(key))
        errs += v.invalid_each(path, value, v.label_value_problems(value))
    return errs


def _names(spec: PodSpec, path: str) -> list[FieldError]:
    """serviceAccountName and nodeName (DNS subdomains), hostname and subdomain (DNS labels)."""
    errs: list[FieldError] = []
    for field, value, check in (("serviceAccountName", spec.service_account_name, v.dns1123_subdomain_problems),
                                ("nodeName", spec.node_name, v.dns1123_subdomain_problems),
                                ("hostname", spec.hostname, v.dns1123_label_problems),
                                ("subdomain", spec.subdomain, v.dns1123_label_problems)):
        errs += v.invalid_each(f"{path}.{field}", value, check(value)) if value else []
    return errs


def _numbers(spec: PodSpec, path: str) -> list[FieldError]:
    errs = v.validate_non_negative(spec.termination_grace_period_seconds, f"{path}.terminationGracePeriodSeconds")
    deadline = spec.active_deadline_seconds
    if deadline is not None and not 1 <= deadline <= MAX_INT32:
        errs.append(v.invalid(f"{path}.activeDeadlineSeconds", deadline, v.inclusive_range_error(1, MAX_INT32)))
    return errs


def _host_network(spec: PodSpec, path: str, is_pod: bool) -> list[FieldError]:
    """validatePodHostNetworkDeps: with hostNetwork a hostPort is the containerPort (templates may leave it 0)."""
    errs: list[FieldError] = []
    for i, c in enumerate(spec.containers or [] if spec.host_network else []):
        for j, port in enumerate(c.ports or []):
            hp, cp = port.host_port or 0, port.container_port or 0
            if (is_pod or hp != 0) and hp != cp:
                errs.append(v.invalid(f"{path}.containers[{i}].ports[{j}].hostPort", hp,
                                      "must match `containerPort` when `hostNetwork` is true"))
    return errs


def validate_pod_spec(spec: PodSpec | None, path: str, is_pod: bool = True) -> list[FieldError]:
    """ValidatePodSpec (`is_pod`: the spec of a Pod, not of a template)."""
    if spec is None:
        return [v.required(path)]
    errs = _numbers(spec, path)
    volumes, vol_errs = validate_volumes(spec.volumes, f"{path}.volumes")
    errs += vol_errs + _containers(spec, volumes, path) + _init_containers(spec, volumes, path)
    if spec.ephemeral_containers:
        errs.append(v.forbidden(f"{path}.ephemeralContainers", "cannot be set on create" if is_pod else
                                "ephemeral containers not allowed in pod template"))
    errs += _host_network(spec, path, is_pod) + _enums(spec, path)
    errs += validate_node_selector(spec.node_selector, f"{path}.nodeSelector") + _names(spec, path)
    errs += validate_tolerations(spec.tolerations, f"{path}.tolerations")
    if is_pod:   # validateContainersOnlyForPod
        for field, group in (("containers", spec.containers or []), ("initContainers", spec.init_containers or [])):
            errs += [v.invalid(f"{path}.{field}[{i}].image", c.image, "must not have leading or trailing whitespace")
                     for i, c in enumerate(group) if c.image and c.image != c.image.strip()]
    return errs
