"""One container of a pod spec (regular or init), checked as kube-apiserver checks it. Pure.

Upstream's validateContainerCommon and what it calls: the name (a DNS-1123 label), image, ports,
env (relaxed names: printable ASCII but '='; `valueFrom` exactly one source), envFrom, volume mounts,
pull and termination-message policies, resources; then the probes and lifecycle hooks (exactly one
handler each). Messages and paths are upstream's.
"""

from __future__ import annotations

import re

from osdn.api import validation as v
from osdn.api.kinds.podresources import parse, validate_resources
from osdn.api.kinds.podtypes import (
    Container,
    ContainerPort,
    EnvFromSource,
    EnvVar,
    EnvVarSource,
    HTTPGetAction,
    KeySelector,
    LifecycleHandler,
    ObjectFieldSelector,
    Probe,
    ResourceFieldSelector,
    SecurityContext,
    Volume,
)
from osdn.api.kinds.podvolumes import validate_mounts
from osdn.api.quantity import QuantityError
from osdn.errors import FieldError

PROTOCOLS = ("SCTP", "TCP", "UDP")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
ENV_FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
                   "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs")
# ConvertDownwardAPIFieldLabel (v1): what a fieldRef may name at all.
_CONVERTIBLE = frozenset({*ENV_FIELD_PATHS, "metadata.labels", "metadata.annotations", "spec.restartPolicy",
                          "spec.schedulerName", "status.phase"})
RESOURCE_FIELDS = ("limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu",
                   "requests.ephemeral-storage", "requests.memory")
MAX_ID = 2 ** 32 - 1   # IsValidUserID / IsValidGroupID
_SUBSCRIPTED = re.compile(r"^(.*)\['(.*)'\]$", re.S)
_HEADER = re.compile(r"^[-A-Za-z0-9]+$")
_DIVISORS = {"cpu": ("1m", "1"), "memory": ("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti",
                                            "1Pi", "1Ei")}


def env_name_problems(name: str) -> list[str]:
    """IsRelaxedEnvVarName (upstream's rule since RelaxedEnvironmentVariableValidation)."""
    if any(ord(ch) > 126 or ord(ch) < 32 or ch == "=" for ch in name):
        return ["a valid environment variable name must consist only of printable ASCII characters other than '='"]
    return []


def _field_ref(ref: ObjectFieldSelector, path: str) -> list[FieldError]:
    """validateObjectFieldSelector for env (after ConvertDownwardAPIFieldLabel)."""
    if not ref.field_path:
        return [v.required(f"{path}.fieldPath")]
    fp, version = ref.field_path, ref.api_version or "v1"   # kube defaults apiVersion to v1
    sub = _SUBSCRIPTED.match(fp)
    problem = (f"unsupported pod version: {version}" if version != "v1" else
               f"field label does not support subscript: {fp}" if sub and sub.group(1) not in (
                   "metadata.labels", "metadata.annotations") else
               f"field label not supported: {fp}" if not sub and fp not in _CONVERTIBLE else None)
    if problem:
        return [v.invalid(f"{path}.fieldPath", fp, f"error converting fieldPath: {problem}")]
    if sub:
        key = sub.group(2).lower() if sub.group(1) == "metadata.annotations" else sub.group(2)
        return v.invalid_each(path, key, v.qualified_name_problems(key))
    return [] if fp in ENV_FIELD_PATHS else [v.not_supported(f"{path}.fieldPath", fp, ENV_FIELD_PATHS)]


def _resource_ref(ref: ResourceFieldSelector, path: str) -> list[FieldError]:
    """validateContainerResourceFieldSelector (env: containerName optional) and the divisor."""
    resource = ref.resource or ""
    if not resource:
        return [v.required(f"{path}.resource")]
    errs: list[FieldError] = []
    if resource not in RESOURCE_FIELDS and not resource.startswith(("requests.hugepages-", "limits.hugepages-")):
        errs.append(v.not_supported(f"{path}.resource", resource, RESOURCE_FIELDS))
    divisor = ref.divisor
    if divisor is None:
        return errs
    try:
        shown = parse(divisor).canonical()
    except QuantityError:
        return errs + [v.invalid(f"{path}.divisor", divisor, "quantities must match the regular expression "
                                 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    kind = resource.split(".", 1)[-1]
    allowed = _DIVISORS["cpu" if kind == "cpu" else "memory"]
    if shown != "0" and shown not in allowed:
        what = {"cpu": "the cpu resource", "memory": "the memory resource",
                "ephemeral-storage": "the local ephemeral storage resource"}.get(kind, "the hugepages resource")
        errs.append(v.invalid(f"{path}.divisor", resource, f"only divisor's values {', '.join(allowed)} are "
                              f"supported with {what}"))
    return errs


def _key_ref(ref: KeySelector, path: str) -> list[FieldError]:
    name, key = ref.name or "", ref.key or ""
    errs = v.invalid_each(f"{path}.name", name, v.dns1123_subdomain_problems(name))
    return errs + (v.invalid_each(f"{path}.key", key, v.config_key_problems(key)) if key else [v.required(f"{path}.key")])


def _value_from(env: EnvVar, src: EnvVarSource, path: str) -> list[FieldError]:
    """validateEnvVarValueFrom."""
    errs: list[FieldError] = []
    count = 0
    if src.field_ref is not None:
        count, errs = count + 1, errs + _field_ref(src.field_ref, f"{path}.fieldRef")
    if src.resource_field_ref is not None:
        count, errs = count + 1, errs + _resource_ref(src.resource_field_ref, f"{path}.resourceFieldRef")
    for name, ref in (("configMapKeyRef", src.config_map_key_ref), ("secretKeyRef", src.secret_key_ref)):
        if ref is not None:
            count, errs = count + 1, errs + _key_ref(ref, f"{path}.{name}")
    if count == 0:
        errs.append(v.invalid(path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` "
                              "or `secretKeyRef`"))
    elif env.value:
        errs.append(v.invalid(path, "", "may not be specified when `value` is not empty"))
    elif count > 1:
        errs.append(v.invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def validate_env(env: list[EnvVar] | None, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, e in enumerate(env or []):
        p = f"{path}[{i}]"
        name = e.name or ""
        errs += v.invalid_each(f"{p}.name", name, env_name_problems(name)) if name else [v.required(f"{p}.name")]
        errs += _value_from(e, e.value_from, f"{p}.valueFrom") if e.value_from is not None else []
    return errs


def validate_env_from(sources: list[EnvFromSource] | None, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, s in enumerate(sources or []):
        p = f"{path}[{i}]"
        errs += v.invalid_each(f"{p}.prefix", s.prefix, env_name_problems(s.prefix)) if s.prefix else []
        refs = [(n, r) for n, r in (("configMapRef", s.config_map_ref), ("secretRef", s.secret_ref)) if r is not None]
        for field, ref in refs:
            name = ref.name or ""
            errs += v.invalid_each(f"{p}.{field}.name", name, v.dns1123_subdomain_problems(name, prefix=True)) \
                if name else [v.required(f"{p}.{field}.name")]
        if not refs:
            errs.append(v.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif len(refs) > 1:
            errs.append(v.invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def validate_ports(ports: list[ContainerPort] | None, path: str) -> list[FieldError]:
    """validateContainerPorts: names unique IANA service names, ports 1-65535, protocol TCP/UDP/SCTP."""
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports or []):
        p = f"{path}[{i}]"
        if port.name:
            problems = v.port_name_problems(port.name)
            errs += v.invalid_each(f"{p}.name", port.name, problems)
            errs += [v.duplicate(f"{p}.name", port.name)] if not problems and port.name in names else []
            names.add(port.name)
        cp = port.container_port or 0
        errs += [v.required(f"{p}.containerPort")] if cp == 0 else \
            [] if 1 <= cp <= 65535 else [v.invalid(f"{p}.containerPort", cp, v.inclusive_range_error(1, 65535))]
        hp = port.host_port or 0
        errs += [v.invalid(f"{p}.hostPort", hp, v.inclusive_range_error(1, 65535))] if hp and not 1 <= hp <= 65535 \
            else []
        errs += [] if port.protocol in PROTOCOLS else [v.not_supported(f"{p}.protocol", port.protocol, PROTOCOLS)]
    return errs


def _port(port: int | str | None, path: str) -> list[FieldError]:
    """ValidatePortNumOrName."""
    if isinstance(port, str):
        return v.invalid_each(path, port, v.port_name_problems(port))
    return [] if port is not None and 1 <= port <= 65535 else \
        [v.invalid(path, port or 0, v.inclusive_range_error(1, 65535))]


def _http_get(h: HTTPGetAction, path: str) -> list[FieldError]:
    errs = _port(h.port, f"{path}.port")   # an unset path is "/" and an unset scheme HTTP, as kube defaults them
    errs += [] if h.scheme in (None, "", "HTTP", "HTTPS") else \
        [v.not_supported(f"{path}.scheme", h.scheme, ("HTTP", "HTTPS"))]
    for header in h.http_headers or []:
        name = header.get("name")
        if not isinstance(name, str) or not _HEADER.match(name):
            errs.append(v.invalid(f"{path}.httpHeaders", name, v.regex_error(
                "a valid HTTP header must consist of alphanumeric characters or '-'", "[-A-Za-z0-9]+",
                "X-Header-Name")))
    return errs


def validate_handler(h: Probe | LifecycleHandler, grace: int | None, path: str) -> list[FieldError]:
    """validateHandler: exactly one of exec, httpGet, tcpSocket, grpc (probes) or sleep (lifecycle)."""
    errs: list[FieldError] = []
    found = 0
    sleep = h.sleep if isinstance(h, LifecycleHandler) else None
    grpc = h.grpc if isinstance(h, Probe) else None
    for name, action in (("exec", h.exec), ("httpGet", h.http_get), ("tcpSocket", h.tcp_socket), ("grpc", grpc),
                         ("sleep", sleep)):
        if action is None:
            continue
        p = f"{path}.{name}"
        if found:
            errs.append(v.forbidden(p, "may not specify more than 1 handler type"))
            continue
        found += 1
        if name == "exec":
            errs += [] if h.exec and h.exec.command else [v.required(f"{p}.command")]
        elif name == "httpGet" and h.http_get is not None:
            errs += _http_get(h.http_get, p)
        elif name in ("tcpSocket", "grpc"):
            errs += _port(getattr(action, "port", None), f"{p}.port")
        elif sleep is not None and grace is not None and not 0 <= (sleep.seconds or 0) <= grace:
            errs.append(v.invalid(p, sleep.seconds or 0, "must be non-negative and less than "
                                  f"terminationGracePeriodSeconds ({grace})"))
    return errs if found else errs + [v.required(path, "must specify a handler type")]


def validate_probe(probe: Probe | None, kind: str, grace: int | None, path: str) -> list[FieldError]:
    """validateLivenessProbe / validateReadinessProbe / validateStartupProbe (`kind` names which)."""
    if probe is None:
        return []
    errs = validate_handler(probe, grace, path)
    for name, value in (("initialDelaySeconds", probe.initial_delay_seconds), ("timeoutSeconds", probe.timeout_seconds),
                        ("periodSeconds", probe.period_seconds), ("successThreshold", probe.success_threshold),
                        ("failureThreshold", probe.failure_threshold)):
        errs += v.validate_non_negative(value or 0, f"{path}.{name}")
    tgps = probe.termination_grace_period_seconds
    if tgps is not None and tgps <= 0:
        errs.append(v.invalid(f"{path}.terminationGracePeriodSeconds", tgps, "must be greater than 0"))
    if kind != "readinessProbe" and (probe.success_threshold or 1) != 1:   # unset (or 0) is kube's default 1
        errs.append(v.invalid(f"{path}.successThreshold", probe.success_threshold, "must be 1"))
    if kind == "readinessProbe" and tgps is not None:
        errs.append(v.invalid(f"{path}.terminationGracePeriodSeconds", tgps, "must not be set for readinessProbes"))
    return errs


def validate_probes_and_hooks(c: Container, grace: int | None, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if c.lifecycle is not None:
        for name, hook in (("postStart", c.lifecycle.post_start), ("preStop", c.lifecycle.pre_stop)):
            errs += validate_handler(hook, grace, f"{path}.lifecycle.{name}") if hook is not None else []
    for kind, probe in (("livenessProbe", c.liveness_probe), ("readinessProbe", c.readiness_probe),
                        ("startupProbe", c.startup_probe)):
        errs += validate_probe(probe, kind, grace, f"{path}.{kind}")
    return errs


def validate_security_context(sc: SecurityContext | None, path: str) -> list[FieldError]:
    """ValidateSecurityContext: user and group ids are uint32; no privilege escalation switched off
    for a privileged container."""
    if sc is None:
        return []
    errs: list[FieldError] = []
    for field, value in (("runAsUser", sc.run_as_user), ("runAsGroup", sc.run_as_group)):
        if value is not None and not 0 <= value <= MAX_ID:
            errs.append(v.invalid(f"{path}.{field}", value, v.inclusive_range_error(0, MAX_ID)))
    if sc.allow_privilege_escalation is False and sc.privileged:
        errs.append(v.invalid(path, sc.allow_privilege_escalation,
                              "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
    return errs


def validate_container_common(c: Container, volumes: dict[str, Volume], path: str) -> list[FieldError]:
    """validateContainerCommon."""
    name = c.name or ""
    errs = v.invalid_each(f"{path}.name", name, v.dns1123_label_problems(name)) if name else [v.required(f"{path}.name")]
    errs += [] if c.image else [v.required(f"{path}.image")]
    tmp = c.termination_message_policy   # unset is kube's default File
    errs += [] if tmp in (None, "", *MESSAGE_POLICIES) else \
        [v.not_supported(f"{path}.terminationMessagePolicy", tmp, MESSAGE_POLICIES)]
    errs += validate_ports(c.ports, f"{path}.ports") + validate_env(c.env, f"{path}.env")
    errs += validate_env_from(c.env_from, f"{path}.envFrom")
    privileged = bool(c.security_context and c.security_context.privileged)
    errs += validate_mounts(c.volume_mounts, volumes, privileged, f"{path}.volumeMounts")
    pull = c.image_pull_policy   # defaulted from the image tag when unset
    errs += [] if pull in PULL_POLICIES else [v.not_supported(f"{path}.imagePullPolicy", pull, PULL_POLICIES)]
    errs += validate_resources(c.resources, f"{path}.resources")
    return errs + validate_security_context(c.security_context, f"{path}.securityContext")
