"""kubectl's describe pieces for pods, ported from kubectl's pkg/describe/describe.go: labels and
annotations, containers, volumes, the pod template, the Events table, and `describe pod`. Pure: the
text from the objects (and `now` for event ages); every line goes through a PrefixWriter so the
tabwriter aligns it as kubectl's does.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from osdn.api import timestamps
from osdn.api.cells import age, event_time
from osdn.api.quantity import QuantityError, parse_quantity
from osdn.cli.tabwriter import PrefixWriter

Obj = dict[str, Any]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_ANNOTATION_LEN = 140


def rfc1123z(value: object) -> str:
    """Go's time.RFC1123Z of an RFC 3339 timestamp (UTC, as the API server stores them)."""
    then = timestamps.parse(value)
    if then is None:
        return "Mon, 01 Jan 0001 00:00:00 +0000"
    return datetime.datetime.fromtimestamp(then, datetime.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def labels_multiline(w: PrefixWriter, title: str, labels: dict[str, str] | None) -> None:
    """printLabelsMultiline: `Title:\\tk=v`, further labels on their own lines, or `<none>`."""
    w.write(0, f"{title}:\t")
    if not labels:
        w.line("<none>")
        return
    for i, key in enumerate(sorted(labels)):
        if i:
            w.write(0, "\t")
        w.write(0, f"{key}={labels[key]}\n")


def annotations_multiline(w: PrefixWriter, title: str, annotations: dict[str, str] | None) -> None:
    """printAnnotationsMultiline: as labels with `k: v`; long or multi-line values below their key."""
    w.write(0, f"{title}:\t")
    keys = sorted(k for k in annotations or {} if k != LAST_APPLIED)
    if not keys:
        w.line("<none>")
        return
    for i, key in enumerate(keys):
        if i:
            w.write(0, "\t")
        value = str((annotations or {})[key]).removesuffix("\n")
        if len(value) + len(key) + 2 > MAX_ANNOTATION_LEN or "\n" in value:
            w.write(0, f"{key}:\n")
            for s in value.split("\n"):
                short = s if len(s) <= MAX_ANNOTATION_LEN - 2 else s[:MAX_ANNOTATION_LEN - 2] + "..."
                w.write(0, f"\t  {short}\n")
        else:
            w.write(0, f"{key}: {value}\n")


def tolerations_multiline(w: PrefixWriter, title: str, tolerations: list[Obj] | None) -> None:
    """printTolerationsMultilineWithIndent: `key=value:Effect op=Exists for 300s`, sorted by key."""
    w.write(0, f"{title}:\t")
    if not tolerations:
        w.line("<none>")
        return
    for i, t in enumerate(sorted(tolerations, key=lambda t: str(t.get("key") or ""))):
        if i:
            w.write(0, "\t")
        key, value, effect = t.get("key") or "", t.get("value") or "", t.get("effect") or ""
        text = key + (f"={value}" if value else "") + (f":{effect}" if effect else "")
        if t.get("operator") == "Exists" and not value:
            text += " op=Exists" if key or effect else "op=Exists"
        if t.get("tolerationSeconds") is not None:
            text += f" for {t['tolerationSeconds']}s"
        w.write(0, text + "\n")


def controller_of(obj: Obj) -> str:
    """printController: `Kind/name` of the controlling owner, "" without one."""
    ref = next((r for r in (obj.get("metadata") or {}).get("ownerReferences") or [] if r.get("controller")), None)
    return f"{ref.get('kind')}/{ref.get('name')}" if ref else ""


def describe_events(w: PrefixWriter, events: list[Obj], now: float) -> None:
    """DescribeEvents: `Events:  <none>`, or (a new tabwriter block) Type Reason Age From Message."""
    if not events:
        w.write(0, "Events:\t<none>\n")
        return
    w.flush()
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for e in sorted(events, key=event_time):
        first = e.get("eventTime") or e.get("firstTimestamp")
        count = int(e.get("count") or 1)
        interval = (f"{age(e.get('lastTimestamp'), now)} (x{count} over {age(first, now)})" if count > 1
                    else age(first, now))
        source = (e.get("source") or {}).get("component") or e.get("reportingComponent") or ""
        message = str(e.get("message") or "").strip()
        w.write(1, f"{e.get('type') or ''}\t{e.get('reason') or ''}\t{interval}\t{source}\t{message}\n")


# ------------------------------------------------------------------------------------------ containers
def _ports(ports: list[Obj], key: str) -> str:
    return ", ".join(f"{p.get(key) or 0}/{p.get('protocol') or ''}" for p in ports)


def _basic_info(w: PrefixWriter, c: Obj, status: Obj | None, space: str) -> None:
    w.write(1, f"{' ' if space else ''}{c.get('name')}:\n")
    if status is not None:
        w.write(2, f"Container ID:\t{status.get('containerID') or ''}\n")
    w.write(2, f"Image:\t{c.get('image') or ''}\n")
    if status is not None:
        w.write(2, f"Image ID:\t{status.get('imageID') or ''}\n")
    for label, key in (("Port", "containerPort"), ("Host Port", "hostPort")):
        text = _ports(c.get("ports") or [], key)
        w.write(2, f"{label}s:\t{text}\n" if "," in text else f"{label}:\t{text or '<none>'}\n")
    seccomp = (c.get("securityContext") or {}).get("seccompProfile")
    if seccomp:
        w.write(2, f"SeccompProfile:\t{seccomp.get('type')}\n")
        if seccomp.get("type") == "Localhost":
            w.write(3, f"LocalhostProfile:\t{seccomp.get('localhostProfile')}\n")


def _command(w: PrefixWriter, c: Obj) -> None:
    for title, key in (("Command", "command"), ("Args", "args")):
        if c.get(key):
            w.write(2, f"{title}:\n")
            for part in c[key]:
                for s in str(part).split("\n"):
                    w.write(3, f"{s}\n")


def _state(w: PrefixWriter, name: str, state: Obj) -> None:
    """describeStatus: Running (Started), Waiting (Reason) or Terminated (Reason, Exit Code, times)."""
    if state.get("running") is not None:
        w.write(2, f"{name}:\tRunning\n")
        w.write(3, f"Started:\t{rfc1123z(state['running'].get('startedAt'))}\n")
    elif state.get("terminated") is not None:
        t = state["terminated"]
        w.write(2, f"{name}:\tTerminated\n")
        for label, key in (("Reason", "reason"), ("Message", "message")):
            if t.get(key):
                w.write(3, f"{label}:\t{t[key]}\n")
        w.write(3, f"Exit Code:\t{t.get('exitCode') or 0}\n")
        if (t.get("signal") or 0) > 0:
            w.write(3, f"Signal:\t{t['signal']}\n")
        w.write(3, f"Started:\t{rfc1123z(t.get('startedAt'))}\n")
        w.write(3, f"Finished:\t{rfc1123z(t.get('finishedAt'))}\n")
    else:
        w.write(2, f"{name}:\tWaiting\n")
        if (state.get("waiting") or {}).get("reason"):
            w.write(3, f"Reason:\t{state['waiting']['reason']}\n")


def resources(w: PrefixWriter, res: Obj | None, level: int) -> None:
    """describeResources: Limits then Requests, each resource sorted by name."""
    for title, key in (("Limits", "limits"), ("Requests", "requests")):
        values = (res or {}).get(key) or {}
        if values:
            w.write(level, f"{title}:\n")
        for name in sorted(values):
            w.write(level + 1, f"{name}:\t{values[name]}\n")


def describe_probe(probe: Obj) -> str:
    """DescribeProbe: `http-get http://:8080/healthz delay=0s timeout=1s period=10s ...`."""
    attrs = (f"delay={probe.get('initialDelaySeconds') or 0}s timeout={probe.get('timeoutSeconds') or 0}s "
             f"period={probe.get('periodSeconds') or 0}s #success={probe.get('successThreshold') or 0} "
             f"#failure={probe.get('failureThreshold') or 0}")
    if probe.get("exec") is not None:
        return f"exec [{' '.join(probe['exec'].get('command') or [])}] {attrs}"
    if probe.get("httpGet") is not None:
        get = probe["httpGet"]
        host, port = str(get.get("host") or ""), str(get.get("port") or "")
        hostport = (f"[{host}]:{port}" if ":" in host else f"{host}:{port}") if port else host
        scheme = str(get.get("scheme") or "").lower()
        return f"http-get {scheme + ':' if scheme else ''}//{hostport}{get.get('path') or ''} {attrs}"
    if probe.get("tcpSocket") is not None:
        sock = probe["tcpSocket"]
        return f"tcp-socket {sock.get('host') or ''}:{sock.get('port') or ''} {attrs}"
    if probe.get("grpc") is not None:
        return f"grpc <pod>:{probe['grpc'].get('port')} {probe['grpc'].get('service') or ''} {attrs}"
    return f"unknown {attrs}"


def _probes(w: PrefixWriter, c: Obj) -> None:
    for title, key in (("Liveness", "livenessProbe"), ("Readiness", "readinessProbe"), ("Startup", "startupProbe")):
        if c.get(key) is not None:
            w.write(2, f"{title}:\t{describe_probe(c[key])}\n")


def _field_value(pod: Obj | None, path: str) -> str:
    """EnvValueRetriever: kubectl's scheme converts only metadata.name and metadata.namespace (the
    default field label conversion); any other fieldRef shows an empty value."""
    if pod is None or path not in ("metadata.name", "metadata.namespace"):
        return ""
    return str((pod.get("metadata") or {}).get(path.split(".")[1]) or "")


def _env_from(w: PrefixWriter, c: Obj) -> None:
    w.write(2, "Environment Variables from:\n")
    for e in c["envFrom"]:
        kind, ref = ("ConfigMap", e["configMapRef"]) if e.get("configMapRef") else ("Secret", e.get("secretRef") or {})
        opt = "true" if ref.get("optional") else "false"
        prefix = f" with prefix '{e['prefix']}'" if e.get("prefix") else ""
        w.write(3, f"{ref.get('name') or ''}\t{kind}{prefix}\tOptional: {opt}\n")


def _resource_env(c: Obj, ref: Obj) -> str:
    """ExtractContainerResourceValue: the container's limit or request over the divisor, rounded up
    (cpu in cores, memory and ephemeral-storage in bytes); an unset cpu/memory limit is "node allocatable"."""
    kind, _, name = str(ref.get("resource") or "").partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage"):
        return ""
    try:
        value = parse_quantity(str(((c.get("resources") or {}).get(kind) or {}).get(name) or "0"))
        divisor = parse_quantity(str(ref.get("divisor") or "1"))
        if divisor.amount == 0:
            divisor = parse_quantity("1")
    except QuantityError:
        return ""
    pair = (value.milli_value(), divisor.milli_value()) if name == "cpu" else (value.value(), divisor.value())
    text = str(math.ceil(pair[0] / pair[1])) if pair[1] else ""
    return "node allocatable" if text == "0" and kind == "limits" and name in ("cpu", "memory") else text


def _env(w: PrefixWriter, c: Obj, pod: Obj | None) -> None:
    env = c.get("env") or []
    w.write(2, "Environment:\n" if env else "Environment:\t<none>\n")
    for e in env:
        src = e.get("valueFrom")
        if src is None:
            for i, s in enumerate(str(e.get("value") or "").split("\n")):
                w.write(3, f"{e.get('name')}:\t{s}\n" if i == 0 else f"\t{s}\n")
        elif src.get("fieldRef"):
            f = src["fieldRef"]
            w.write(3, f"{e.get('name')}:\t{_field_value(pod, str(f.get('fieldPath')))} "
                       f"({f.get('apiVersion') or ''}:{f.get('fieldPath')})\n")
        elif src.get("resourceFieldRef"):
            w.write(3, f"{e.get('name')}:\t{_resource_env(c, src['resourceFieldRef'])} "
                       f"({src['resourceFieldRef'].get('resource')})\n")
        else:
            what, ref = (("secret", src["secretKeyRef"]) if src.get("secretKeyRef")
                         else ("config map", src.get("configMapKeyRef") or {}))
            rel = "in" if what == "secret" else "of"
            w.write(3, f"{e.get('name')}:\t<set to the key '{ref.get('key')}' {rel} {what} '{ref.get('name')}'>"
                       f"\tOptional: {'true' if ref.get('optional') else 'false'}\n")


def _mounts(w: PrefixWriter, c: Obj) -> None:
    mounts = sorted(c.get("volumeMounts") or [], key=lambda m: str(m.get("mountPath")))
    none = "" if mounts else "\t<none>"
    w.write(2, f"Mounts:{none}\n")
    for m in mounts:
        flags = ["ro" if m.get("readOnly") else "rw"] + ([f'path="{m["subPath"]}"'] if m.get("subPath") else [])
        w.write(3, f"{m.get('mountPath')} from {m.get('name')} ({','.join(flags)})\n")
    if c.get("volumeDevices"):
        w.write(2, f"Devices:{none}\n")
        for d in sorted(c["volumeDevices"], key=lambda d: str(d.get("devicePath"))):
            w.write(3, f"{d.get('devicePath')} from {d.get('name')}\n")


def describe_containers(w: PrefixWriter, label: str, containers: list[Obj], statuses: list[Obj] | None,
                        pod: Obj | None, space: str) -> None:
    """describeContainers: each container's image, ports, command, state, resources, probes, env, mounts."""
    by_name = {s.get("name"): s for s in statuses or []}
    w.write(0, f"{space}{label}:{'' if containers else ' <none>'}\n")
    for c in containers:
        status = by_name.get(c.get("name")) if statuses is not None else None
        _basic_info(w, c, status, space)
        _command(w, c)
        if status is not None:
            _state(w, "State", status.get("state") or {})
            if (status.get("lastState") or {}).get("terminated") is not None:
                _state(w, "Last State", status["lastState"])
            w.write(2, f"Ready:\t{'True' if status.get('ready') else 'False'}\n")
            w.write(2, f"Restart Count:\t{status.get('restartCount') or 0}\n")
        resources(w, c.get("resources"), 2)
        _probes(w, c)
        if c.get("envFrom"):
            _env_from(w, c)
        _env(w, c, pod)
        _mounts(w, c)


# --------------------------------------------------------------------------------------------- volumes
def _volume(w: PrefixWriter, v: Obj) -> None:
    """One volume's Type and fields, for the sources osdn models."""
    if v.get("hostPath") is not None:
        w.write(2, f"Type:\tHostPath (bare host directory volume)\n    Path:\t{v['hostPath'].get('path')}\n"
                   f"    HostPathType:\t{v['hostPath'].get('type') or '<none>'}\n")
    elif v.get("emptyDir") is not None:
        size = v["emptyDir"].get("sizeLimit")
        w.write(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n"
                   f"    Medium:\t{v['emptyDir'].get('medium') or ''}\n    SizeLimit:\t{size or '<unset>'}\n")
    elif v.get("secret") is not None:
        w.write(2, f"Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t{v['secret'].get('secretName')}\n"
                   f"    Optional:\t{'true' if v['secret'].get('optional') else 'false'}\n")
    elif v.get("configMap") is not None:
        w.write(2, f"Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t{v['configMap'].get('name')}\n"
                   f"    Optional:\t{'true' if v['configMap'].get('optional') else 'false'}\n")
    elif v.get("nfs") is not None:
        nfs = v["nfs"]
        w.write(2, f"Type:\tNFS (an NFS mount that lasts the lifetime of a pod)\n    Server:\t{nfs.get('server')}\n"
                   f"    Path:\t{nfs.get('path')}\n    ReadOnly:\t{'true' if nfs.get('readOnly') else 'false'}\n")
    elif v.get("persistentVolumeClaim") is not None:
        claim = v["persistentVolumeClaim"]
        w.write(2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n"
                   f"    ClaimName:\t{claim.get('claimName')}\n"
                   f"    ReadOnly:\t{'true' if claim.get('readOnly') else 'false'}\n")
    elif v.get("downwardAPI") is not None:
        w.write(2, "Type:\tDownwardAPI (a volume populated by information about the pod)\n    Items:\n")
        for item in v["downwardAPI"].get("items") or []:
            for ref, key in (("fieldRef", "fieldPath"), ("resourceFieldRef", "resource")):
                if item.get(ref):
                    w.write(3, f"{item[ref].get(key)} -> {item.get('path')}\n")
    else:
        w.write(1, "<unknown>\n")


def describe_volumes(w: PrefixWriter, volumes: list[Obj] | None, space: str) -> None:
    """describeVolumes: `Volumes:  <none>` or each volume by name with its source."""
    if not volumes:
        w.write(0, f"{space}Volumes:\t<none>\n")
        return
    w.write(0, f"{space}Volumes:\n")
    for v in volumes:
        w.write(1, f"{' ' if space else ''}{v.get('name')}:\n")
        _volume(w, v)


def describe_pod_template(w: PrefixWriter, template: Obj | None) -> None:
    """DescribePodTemplate: the template's labels, annotations, containers, volumes and scheduling."""
    w.write(0, "Pod Template:\n")
    if template is None:
        w.write(1, "<unset>")
        return
    meta, spec = template.get("metadata") or {}, template.get("spec") or {}
    labels_multiline(w, "  Labels", meta.get("labels"))
    if meta.get("annotations"):
        annotations_multiline(w, "  Annotations", meta["annotations"])
    if spec.get("serviceAccountName"):
        w.write(1, f"Service Account:\t{spec['serviceAccountName']}\n")
    if spec.get("initContainers"):
        describe_containers(w, "Init Containers", spec["initContainers"], None, None, "  ")
    describe_containers(w, "Containers", spec.get("containers") or [], None, None, "  ")
    describe_volumes(w, spec.get("volumes"), "  ")
    if spec.get("priorityClassName"):
        w.write(1, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    labels_multiline(w, "  Node-Selectors", spec.get("nodeSelector"))
    tolerations_multiline(w, "  Tolerations", spec.get("tolerations"))
