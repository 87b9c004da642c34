"""kubectl's generic describer (describe.go's genericDescriber and printUnstructuredContent): what
`kubectl describe` prints for a kind it has no describer for (NetNamespace, HostSubnet,
EgressNetworkPolicy, ClusterNetwork, ...): Name, Namespace, Labels, Annotations, then every field of
the object, sorted, as nested `Smart Label:  value` lines, then the events. Pure.
"""

from __future__ import annotations

from typing import Any

from osdn.cli.describe_pod import annotations_multiline, describe_events, labels_multiline
from osdn.cli.tabwriter import PrefixWriter

Obj = dict[str, Any]
ACRONYMS = ("API", "URL", "UID", "OSB", "GUID")  # kubectl 1.32's commonAcronyms
SKIP = (".metadata.managedFields", ".metadata.name", ".metadata.namespace", ".metadata.labels",
        ".metadata.annotations")
KUBECTL_TYPED = frozenset((
    "CSINode", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "CronJob", "DaemonSet",
    "Deployment", "EndpointSlice", "Endpoints", "HorizontalPodAutoscaler", "IPAddress", "Ingress", "IngressClass",
    "Job", "LimitRange", "Namespace", "NetworkPolicy", "Node", "PersistentVolume", "PersistentVolumeClaim", "Pod",
    "PodDisruptionBudget", "PriorityClass", "ReplicaSet", "ReplicationController", "ResourceQuota", "Role",
    "RoleBinding", "Secret", "Service", "ServiceAccount", "ServiceCIDR", "StatefulSet", "StorageClass",
    "VolumeAttributesClass"))  # the kinds kubectl's describerMap has its own describer for


def _rune_class(ch: str) -> int:
    return 0 if ch.islower() else 1 if ch.isupper() else 2 if ch.isdigit() else 3


def camel_split(text: str) -> list[str]:
    """fatih/camelcase.Split: runs of one character class, an upper run giving its last letter to a
    following lower run ("PDFLoader" -> PDF, Loader)."""
    runs: list[list[str]] = []
    for ch in text:
        if runs and _rune_class(runs[-1][-1]) == _rune_class(ch):
            runs[-1].append(ch)
        else:
            runs.append([ch])
    for i in range(len(runs) - 1):
        if runs[i] and runs[i + 1] and runs[i][0].isupper() and runs[i + 1][0].islower():
            runs[i + 1].insert(0, runs[i].pop())
    return ["".join(r) for r in runs if r]


def smart_label(field: str) -> str:
    """smartLabelFor (kubectl 1.32): `apiVersion` -> `API Version`, `egressCIDRs` -> `Egress CID Rs`; a
    field with characters other than letters and '-' stays as it is."""
    if any(not (ch.isalpha() or ch == "-") for ch in field):
        return field
    return " ".join(p.upper() if p.upper() in ACRONYMS else p[:1].upper() + p[1:] for p in camel_split(field))


def go_value(value: object) -> str:
    """Go's %v of a decoded JSON value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)  # integral: an int64
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def print_content(w: PrefixWriter, level: int, content: Obj, prefix: str) -> None:
    """printUnstructuredContent: maps and lists as nested blocks, scalars as `Label:\\tvalue`."""
    for field in sorted(content):
        value, path = content[field], f"{prefix}.{field}"
        if path in SKIP:
            continue
        if isinstance(value, dict):
            w.write(level, f"{smart_label(field)}:\n")
            print_content(w, level + 1, value, path)
        elif isinstance(value, list):
            w.write(level, f"{smart_label(field)}:\n")
            for child in value:
                if isinstance(child, dict):
                    print_content(w, level + 1, child, path)
                else:
                    w.write(level + 1, f"{go_value(child)}\n")
        else:
            w.write(level, f"{smart_label(field)}:\t{go_value(value)}\n")


def describe_generic(obj: Obj, events: list[Obj], now: float) -> str:
    """genericDescriber.Describe."""
    w, meta = PrefixWriter(), obj.get("metadata") or {}
    w.write(0, f"Name:\t{meta.get('name')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace') or ''}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    print_content(w, 0, obj, "")
    describe_events(w, events, now)
    return w.text()
