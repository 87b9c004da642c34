"""kubectl's describers for Pod, ReplicationController, ReplicaSet, Deployment and Namespace, ported
line by line from kubectl's pkg/describe/describe.go. Pure: each takes the object and what kubectl
fetches beside it (the controller's pods, a deployment's replica sets, a namespace's quotas, the object's
events) and returns the text `kubectl describe` prints.
"""

from __future__ import annotations

from typing import Any

from osdn.api.cells import age
from osdn.cli.describe_pod import (
    annotations_multiline,
    controller_of,
    describe_containers,
    describe_events,
    describe_pod_template,
    describe_volumes,
    labels_multiline,
    resources,
    rfc1123z,
    tolerations_multiline,
)
from osdn.cli.quota_describe import SCOPE_NOTES
from osdn.cli.tabwriter import PrefixWriter

Obj = dict[str, Any]
PHASE_COUNTS = ("Running", "Pending", "Succeeded", "Failed")


def format_labels(labels: dict[str, str] | None) -> str:
    """labels.FormatLabels: `a=b,c=d` sorted, `<none>` when empty."""
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "<none>"


def format_selector(selector: Obj | None) -> str:
    """A LabelSelector as labels.Selector.String(): requirements sorted by key ("" when empty)."""
    reqs = [(k, f"{k}={v}") for k, v in ((selector or {}).get("matchLabels") or {}).items()]
    for e in (selector or {}).get("matchExpressions") or []:
        key, op, values = e.get("key"), e.get("operator"), sorted(e.get("values") or [])
        text = {"In": f"{key} in ({','.join(values)})", "NotIn": f"{key} notin ({','.join(values)})",
                "Exists": str(key), "DoesNotExist": f"!{key}"}.get(str(op), str(key))
        reqs.append((str(key), text))
    return ",".join(text for _, text in sorted(reqs))


def pod_counts(owner: Obj, pods: list[Obj]) -> tuple[int, ...]:
    """getPodStatusForController: Running / Waiting (Pending) / Succeeded / Failed of the pods it controls."""
    uid = (owner.get("metadata") or {}).get("uid")
    owned = [p for p in pods if any(r.get("controller") and r.get("uid") == uid
                                    for r in (p.get("metadata") or {}).get("ownerReferences") or [])]
    return tuple(sum(1 for p in owned if (p.get("status") or {}).get("phase") == ph) for ph in PHASE_COUNTS)


def _pods_status(counts: tuple[int, ...]) -> str:
    running, waiting, succeeded, failed = counts
    return f"{running} Running / {waiting} Waiting / {succeeded} Succeeded / {failed} Failed"


def _conditions(w: PrefixWriter, conditions: list[Obj] | None) -> None:
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
        w.write(1, "----\t------\t------\n")
        for c in conditions:
            w.write(1, f"{c.get('type')} \t{c.get('status')}\t{c.get('reason') or ''}\n")


def _head(w: PrefixWriter, meta: Obj) -> None:
    w.write(0, f"Name:\t{meta.get('name')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace')}\n")


def describe_replication_controller(rc: Obj, pods: list[Obj], events: list[Obj], now: float) -> str:
    """describeReplicationController."""
    w, meta, spec = PrefixWriter(), rc.get("metadata") or {}, rc.get("spec") or {}
    _head(w, meta)
    w.write(0, f"Selector:\t{format_labels(spec.get('selector'))}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    w.write(0, f"Replicas:\t{(rc.get('status') or {}).get('replicas') or 0} current / "
               f"{spec.get('replicas', 1)} desired\n")
    w.write(0, f"Pods Status:\t{_pods_status(pod_counts(rc, pods))}\n")
    describe_pod_template(w, spec.get("template"))
    _conditions(w, (rc.get("status") or {}).get("conditions"))
    describe_events(w, events, now)
    return w.text()


def describe_replica_set(rs: Obj, pods: list[Obj], events: list[Obj], now: float) -> str:
    """describeReplicaSet."""
    w, meta, spec = PrefixWriter(), rs.get("metadata") or {}, rs.get("spec") or {}
    _head(w, meta)
    w.write(0, f"Selector:\t{format_selector(spec.get('selector')) or '<none>'}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    if controller_of(rs):
        w.write(0, f"Controlled By:\t{controller_of(rs)}\n")
    w.write(0, f"Replicas:\t{(rs.get('status') or {}).get('replicas') or 0} current / "
               f"{spec.get('replicas', 1)} desired\n")
    w.write(0, f"Pods Status:\t{_pods_status(pod_counts(rs, pods))}\n")
    describe_pod_template(w, spec.get("template"))
    _conditions(w, (rs.get("status") or {}).get("conditions"))
    describe_events(w, events, now)
    return w.text()


def _replica_sets_text(sets: list[Obj]) -> str:
    """printReplicaSetsByLabels: `name (1/1 replicas created), ...` or `<none>`."""
    return ", ".join(f"{s['metadata']['name']} ({(s.get('status') or {}).get('replicas') or 0}/"
                     f"{(s.get('spec') or {}).get('replicas', 1)} replicas created)" for s in sets) or "<none>"


def _template_sans_hash(template: Obj | None) -> Obj:
    meta = dict((template or {}).get("metadata") or {})
    meta["labels"] = {k: v for k, v in (meta.get("labels") or {}).items() if k != "pod-template-hash"}
    return {**(template or {}), "metadata": meta}


def split_replica_sets(deploy: Obj, sets: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """deploymentutil.GetAllReplicaSets: the deployment's old sets and its new one (same pod template)."""
    uid = (deploy.get("metadata") or {}).get("uid")
    owned = [s for s in sets if any(r.get("controller") and r.get("uid") == uid
                                    for r in (s.get("metadata") or {}).get("ownerReferences") or [])]
    want = _template_sans_hash((deploy.get("spec") or {}).get("template"))
    new = next((s for s in owned if _template_sans_hash((s.get("spec") or {}).get("template")) == want), None)
    return [s for s in owned if s is not new], [new] if new is not None else []


def describe_deployment(deploy: Obj, sets: list[Obj], events: list[Obj], now: float) -> str:
    """describeDeployment: replicas, strategy, the pod template, conditions, old and new replica sets."""
    w, meta, spec, status = PrefixWriter(), deploy.get("metadata") or {}, deploy.get("spec") or {}, deploy.get(
        "status") or {}
    _head(w, meta)
    w.write(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    w.write(0, f"Selector:\t{format_selector(spec.get('selector'))}\n")
    w.write(0, f"Replicas:\t{spec.get('replicas', 1)} desired | {status.get('updatedReplicas') or 0} updated | "
               f"{status.get('replicas') or 0} total | {status.get('availableReplicas') or 0} available | "
               f"{status.get('unavailableReplicas') or 0} unavailable\n")
    strategy = spec.get("strategy") or {}
    w.write(0, f"StrategyType:\t{strategy.get('type') or ''}\n")
    w.write(0, f"MinReadySeconds:\t{spec.get('minReadySeconds') or 0}\n")
    if strategy.get("rollingUpdate") is not None:
        ru = strategy["rollingUpdate"]
        w.write(0, f"RollingUpdateStrategy:\t{ru.get('maxUnavailable', 0)} max unavailable, "
                   f"{ru.get('maxSurge', 0)} max surge\n")
    describe_pod_template(w, spec.get("template"))
    _conditions(w, status.get("conditions"))
    old, new = split_replica_sets(deploy, sets)
    if old or new:
        w.write(0, f"OldReplicaSets:\t{_replica_sets_text(old)}\n")
        w.write(0, f"NewReplicaSet:\t{_replica_sets_text(new)}\n")
    describe_events(w, events, now)
    return w.text()


# ------------------------------------------------------------------------------------------------- pod
def qos_class(pod: Obj) -> str:
    """qos.GetPodQOS: status.qosClass, else computed from the containers' cpu/memory requests and limits."""
    if (pod.get("status") or {}).get("qosClass"):
        return str(pod["status"]["qosClass"])
    spec = pod.get("spec") or {}
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    requests: dict[str, list[str]] = {}
    limits: dict[str, list[str]] = {}
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        for name, value in (res.get("requests") or {}).items():
            if name in ("cpu", "memory") and str(value) not in ("0", ""):
                requests.setdefault(name, []).append(str(value))
        found = {n for n, v in (res.get("limits") or {}).items() if n in ("cpu", "memory") and str(v) not in ("0", "")}
        for name in found:
            limits.setdefault(name, []).append(str(res["limits"][name]))
        guaranteed = guaranteed and found == {"cpu", "memory"}
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"


def _pod_head(w: PrefixWriter, pod: Obj, now: float) -> None:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    _head(w, meta)
    if spec.get("priority") is not None:
        w.write(0, f"Priority:\t{spec['priority']}\n")
    for label, key in (("Priority Class Name", "priorityClassName"), ("Runtime Class Name", "runtimeClassName"),
                       ("Service Account", "serviceAccountName")):
        if spec.get(key):
            w.write(0, f"{label}:\t{spec[key]}\n")
    w.write(0, f"Node:\t{spec['nodeName'] + '/' + (status.get('hostIP') or '')}\n" if spec.get("nodeName")
            else "Node:\t<none>\n")
    if status.get("startTime"):
        w.write(0, f"Start Time:\t{rfc1123z(status['startTime'])}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    if meta.get("deletionTimestamp") and status.get("phase") not in ("Failed", "Succeeded"):
        w.write(0, f"Status:\tTerminating (lasts {age(meta['deletionTimestamp'], now)})\n")
        w.write(0, f"Termination Grace Period:\t{meta.get('deletionGracePeriodSeconds') or 0}s\n")
    else:
        w.write(0, f"Status:\t{status.get('phase') or ''}\n")
    for label, key in (("Reason", "reason"), ("Message", "message")):
        if status.get(key):
            w.write(0, f"{label}:\t{status[key]}\n")


def _pod_network(w: PrefixWriter, pod: Obj) -> None:
    status = pod.get("status") or {}
    w.write(0, f"IP:\t{status.get('podIP') or ''}\n")
    ips = status.get("podIPs") or []
    w.write(0, "IPs:\n" if ips else "IPs:\t<none>\n")
    for ip in ips:
        w.write(1, f"IP:\t{ip.get('ip')}\n")
    if controller_of(pod):
        w.write(0, f"Controlled By:\t{controller_of(pod)}\n")
    if status.get("nominatedNodeName"):
        w.write(0, f"NominatedNodeName:\t{status['nominatedNodeName']}\n")


def describe_pod(pod: Obj, events: list[Obj], now: float) -> str:
    """describePod."""
    w, spec, status = PrefixWriter(), pod.get("spec") or {}, pod.get("status") or {}
    _pod_head(w, pod, now)
    _pod_network(w, pod)
    if spec.get("resources") is not None:
        w.write(0, "Resources:\n")
        resources(w, spec["resources"], 1)
    if spec.get("initContainers"):
        describe_containers(w, "Init Containers", spec["initContainers"], status.get("initContainerStatuses") or [],
                            pod, "")
    describe_containers(w, "Containers", spec.get("containers") or [], status.get("containerStatuses") or [], pod, "")
    if spec.get("readinessGates"):
        w.write(0, "Readiness Gates:\n  Type\tStatus\n")
        for g in spec["readinessGates"]:
            found = next((c.get("status") for c in status.get("conditions") or []
                          if c.get("type") == g.get("conditionType")), "<none>")
            w.write(1, f"{g.get('conditionType')} \t{found} \n")
    if status.get("conditions"):
        w.write(0, "Conditions:\n  Type\tStatus\n")
        for c in status["conditions"]:
            w.write(1, f"{c.get('type')} \t{c.get('status')} \n")
    describe_volumes(w, spec.get("volumes"), "")
    w.write(0, f"QoS Class:\t{qos_class(pod)}\n")
    labels_multiline(w, "Node-Selectors", spec.get("nodeSelector"))
    tolerations_multiline(w, "Tolerations", spec.get("tolerations"))
    describe_events(w, events, now)
    return w.text()


# ------------------------------------------------------------------------------------------- namespace
def _quotas(w: PrefixWriter, quotas: list[Obj]) -> None:
    """DescribeResourceQuotas: every quota's scopes and Resource / Used / Hard (status.hard's resources)."""
    if not quotas:
        w.write(0, "No resource quota.\n")
        return
    w.write(0, "Resource Quotas\n")
    for q in sorted(quotas, key=lambda q: str(q["metadata"]["name"])):
        w.write(1, f"Name:\t{q['metadata']['name']}\n")
        scopes = sorted((q.get("spec") or {}).get("scopes") or [])
        if scopes:
            w.write(1, f"Scopes:\t{', '.join(scopes)}\n")
            for s in scopes:
                if s in SCOPE_NOTES:
                    w.write(1, f"* {SCOPE_NOTES[s]}\n")
        w.write(1, "Resource\tUsed\tHard\n")
        w.write(1, "--------\t---\t---\n")
        status = q.get("status") or {}
        for name in sorted(status.get("hard") or {}):
            w.write(1, f"{name}\t{(status.get('used') or {}).get(name, '0')}\t{status['hard'][name]}\n")


def describe_namespace(ns: Obj, quotas: list[Obj]) -> str:
    """describeNamespace: name, labels, annotations, phase, conditions, then the quotas. osdn serves no
    LimitRange (a 404, which kubectl takes for "not supported"), so there is no limit range section."""
    w, meta, status = PrefixWriter(), ns.get("metadata") or {}, ns.get("status") or {}
    w.write(0, f"Name:\t{meta.get('name')}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    w.write(0, f"Status:\t{status.get('phase') or ''}\n")
    if status.get("conditions"):
        w.write(0, "Conditions:\n")
        w.write(1, "Type\tStatus\tLastTransitionTime\tReason\tMessage\n")
        w.write(1, "----\t------\t------------------\t------\t-------\n")
        for c in status["conditions"]:
            w.write(1, f"{c.get('type')}\t{c.get('status')}\t{rfc1123z(c.get('lastTransitionTime'))}\t"
                       f"{c.get('reason') or ''}\t{c.get('message') or ''}\n")
    w.write(0, "\n")
    _quotas(w, quotas)
    return w.text()
