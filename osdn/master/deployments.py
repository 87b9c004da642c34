"""Deployment controller: rolls a Deployment's pod template out through ReplicaSets, as kube does.

Key: `namespace/name` of a Deployment. The Deployment's ReplicaSets are those whose controller
ownerReference names it (same uid). The new RS is the one whose template equals the Deployment's
(the `pod-template-hash` label aside); when there is none it is created as `<deployment>-<hash>`
with the hash label on its selector, template and labels, the next `deployment.kubernetes.io/revision`
and an ownerReference with `controller: true`. Each reconcile makes one step of the strategy
(osdn.master.rollout: RollingUpdate within maxSurge/maxUnavailable, or Recreate), which also
carries out scaling; when the rollout is complete the old RSs beyond `revisionHistoryLimit` are
deleted. The status (replicas, updatedReplicas, readyReplicas, availableReplicas,
unavailableReplicas, observedGeneration, conditions Available and Progressing) is written every
reconcile it changes; a rollout without progress is looked at again when its progress deadline
passes. A sync that is a scaling event (an active RS's desired-replicas annotation is not the
Deployment's `replicas`: `kubectl scale` during a rollout) and every sync of a paused Deployment
scale as kube's scale() does (osdn.master.rollout.plan_scale: the one active RS, or the newest, or
proportionally over several) and neither create an RS nor roll out; every RS the controller scales
gets the desired-replicas and max-replicas annotations. A paused Deployment's Progressing
condition says DeploymentPaused, then DeploymentResumed. A ReplicaSet's ReplicaFailure condition
(its pod creates refused, e.g. by ResourceQuota) is mirrored into the Deployment's conditions by a
rollout sync and removed when no RS has one (osdn.master.rollout.replica_failure). When the Deployment is gone (or was created again:
another uid), its RSs are deleted, and the ReplicaSet controller deletes their pods: the garbage
collection kube does with background propagation. A Deployment being deleted (a deletionTimestamp: Orphan or
Foreground) gets no RS made, scaled or adopted; only its status counts follow its RSs as they go
(kube's syncStatusOnly). RSs without a controller that the selector
matches (orphaned by `kubectl delete --cascade=orphan`, osdn.apiserver.orphans) are adopted.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from osdn.api.labels import from_label_selector
from osdn.client import Client
from osdn.errors import AlreadyExistsError, NotFoundError
from osdn.master.controller import Controller, Informers
from osdn.master.events import Recorder
from osdn.master.replicas import OwnerKind, alive_afresh, controller_of, owned_by, owner_ref, still_garbage
from osdn.master.rollout import (
    HASH_LABEL,
    REVISION,
    RSView,
    Strategy,
    annotated,
    cleanup,
    complete,
    deadline_left,
    deployment_status,
    is_scaling_event,
    plan,
    plan_scale,
    replica_failure,
    replicas_annotations,
    revision_of,
    status_only,
    strategy_of,
    template_hash,
    without_hash,
)

log = logging.getLogger(__name__)
Obj = dict[str, Any]
DEPLOYMENT = OwnerKind("Deployment", "apps/v1")


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def new_replicaset(deployment: Mapping[str, Any], pod_hash: str, replicas: int, revision: int) -> Obj:
    """Pure: the RS `<deployment>-<hash>` of the Deployment's current template."""
    meta, spec = _meta(deployment), deployment.get("spec") or {}
    template = copy.deepcopy(spec.get("template") or {})
    template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
    selector = copy.deepcopy(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
    notes = {REVISION: str(revision), **replicas_annotations(strategy_of(deployment))}
    rs_meta: Obj = {"name": f"{meta.get('name')}-{pod_hash}", "namespace": meta.get("namespace"),
                    "labels": dict(template["metadata"]["labels"]), "annotations": notes,
                    "ownerReferences": [owner_ref(deployment, DEPLOYMENT)]}
    rs_spec = {"replicas": replicas, "minReadySeconds": int(spec.get("minReadySeconds") or 0),
               "selector": selector, "template": template}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": rs_meta, "spec": rs_spec}


def adoptable(rs: Mapping[str, Any], deployment: Mapping[str, Any]) -> bool:
    """Pure: `rs` has no controller, is not being deleted, and the Deployment's selector matches its labels."""
    meta = _meta(rs)
    if meta.get("deletionTimestamp") or any(r.get("controller") for r in meta.get("ownerReferences") or []):
        return False
    selector = from_label_selector((deployment.get("spec") or {}).get("selector"))
    return not selector.empty and selector.matches(meta.get("labels"))


def split_new(deployment: Mapping[str, Any], rss: list[Obj]) -> tuple[Obj | None, list[Obj]]:
    """Pure: the RS of the current template (the oldest if several) and the others."""
    want = without_hash((deployment.get("spec") or {}).get("template") or {})
    same = sorted((rs for rs in rss if without_hash((rs.get("spec") or {}).get("template") or {}) == want),
                  key=lambda rs: (str(_meta(rs).get("creationTimestamp") or ""), str(_meta(rs).get("name"))))
    new = same[0] if same else None
    return new, [rs for rs in rss if rs is not new]


class DeploymentController(Controller):
    name = "deployment"

    def __init__(self, client: Client, informers: Informers, recorder: Recorder,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(client)
        self.recorder = recorder   # ScalingReplicaSet events, as kube's (kubectl describe deployment)
        self.clock = clock   # wall clock: condition times
        self.deployments = informers.on("Deployment", lambda _t, new, old: self.enqueue(self._key(new or old)))
        self.replicasets = informers.on("ReplicaSet", self._on_replicaset)

    @staticmethod
    def _key(obj: Mapping[str, Any] | None) -> str:
        return f"{_meta(obj or {}).get('namespace')}/{_meta(obj or {}).get('name')}"

    def _on_replicaset(self, _type: str, new: Obj | None, old: Obj | None) -> None:
        for rs in (new, old):
            owner = controller_of(rs, DEPLOYMENT.kind) if rs else None
            if rs and owner:
                self.enqueue(f"{_meta(rs).get('namespace')}/{owner}")

    def prepare(self) -> None:
        """Every Deployment, and those named by RSs (one deleted while the master was down leaves garbage)."""
        for deployment in self.deployments.items():
            self.enqueue(self._key(deployment))
        for rs in self.replicasets.items():
            self._on_replicaset("ADDED", rs, None)

    def _replicasets(self, namespace: str) -> list[Obj]:
        """The RSs of `namespace`, our own writes included."""
        names = {str(_meta(rs).get("name")) for rs in self.replicasets.items() if _meta(rs).get("namespace") == namespace}
        found = (self.writes.latest(self.replicasets, n, namespace) for n in names | set(
            self.writes.names("ReplicaSet", namespace)))
        return [rs for rs in found if rs is not None]

    def _adopt(self, deployment: Obj, candidates: list[Obj]) -> list[Obj]:
        """Kube's ClaimReplicaSets, adoption half: the RSs with no controller that the selector matches
        (left by `kubectl delete --cascade=orphan`) get this Deployment as their controller."""
        namespace, adopted = str(_meta(deployment).get("namespace")), []
        for rs in candidates:
            refs = [*(_meta(rs).get("ownerReferences") or []), owner_ref(deployment, DEPLOYMENT)]
            name = str(_meta(rs).get("name"))
            patched = self.client.patch("ReplicaSet", name, {"metadata": {
                "ownerReferences": refs, "resourceVersion": _meta(rs).get("resourceVersion")}}, namespace)
            self.writes.record("ReplicaSet", name, patched, namespace)
            log.info("deployment %s/%s: adopted replica set %s", namespace, _meta(deployment).get("name"), name)
            adopted.append(patched)
        return adopted

    def reconcile(self, key: Hashable) -> None:
        namespace, name = str(key).split("/", 1)
        deployment = self.deployments.get(name, namespace)
        rss = self._replicasets(namespace)
        named = [rs for rs in rss if controller_of(rs, DEPLOYMENT.kind) == name]
        for rs in named:   # the Deployment is gone (or created again): collect the garbage
            if not owned_by(rs, deployment, DEPLOYMENT.kind) and \
                    still_garbage(self.client, "ReplicaSet", rs, DEPLOYMENT.kind, deployment):
                self._delete(namespace, str(_meta(rs).get("name")))
        if deployment is None:
            return
        mine = [rs for rs in named if owned_by(rs, deployment, DEPLOYMENT.kind)]
        if _meta(deployment).get("deletionTimestamp"):   # kube's syncStatusOnly: no RS made, scaled or adopted
            new, old = split_new(deployment, mine)
            self._write_status(deployment, status_only(deployment, strategy_of(deployment), RSView.of(new) if new
                                                       else None, [RSView.of(rs) for rs in old], self.clock()))
            return
        candidates = [rs for rs in rss if adoptable(rs, deployment)]
        if (candidates or not mine) and not alive_afresh(self.client, DEPLOYMENT.kind, deployment):
            return   # being deleted with Orphan (its RSs released): neither adopt them back nor make new ones
        self._sync(key, deployment, mine + self._adopt(deployment, candidates))

    def _sync(self, key: Hashable, deployment: Obj, rss: list[Obj]) -> None:
        s, paused = strategy_of(deployment), bool((deployment.get("spec") or {}).get("paused"))
        new, old = split_new(deployment, rss)
        old_views = [RSView.of(rs) for rs in old]
        scaling = paused or is_scaling_event(s, RSView.of(new) if new is not None else None, old_views)
        created = False
        if new is None and not scaling:
            new, created = self._create_new(deployment, s, old_views), True
        if new is not None:
            new = self._sync_new(deployment, new, old_views)
        new_view = RSView.of(new) if new is not None else None
        views = ([new_view] if new_view else []) + old_views
        if scaling:   # kube's sync(): scale only, no new RS, no rollout step
            have = int((deployment.get("status") or {}).get("replicas") or 0)
            self._scale(deployment, s, plan_scale(s, have, new_view, old_views), views)
        elif new_view is not None and not created:
            self._scale(deployment, s, plan(s, new_view, old_views), views)
        status = deployment_status(deployment, s, new_view, old_views, self.clock(), created)
        if (failure := replica_failure(deployment, new, old, rollout=not scaling)) is not None:
            status["conditions"].append(failure)
        if not created and complete(s, status):
            for rs_name in cleanup(old_views, int((deployment.get("spec") or {}).get("revisionHistoryLimit", 10))):
                self._delete(str(_meta(deployment).get("namespace")), rs_name)
        self._write_status(deployment, status)
        progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
        if progressing["reason"] in ("ReplicaSetUpdated", "NewReplicaSetCreated", "DeploymentResumed"):
            self.queue.add_after(key, deadline_left(deployment, progressing, self.clock()) + 1)

    def _create_new(self, deployment: Obj, s: Strategy, old: list[RSView]) -> Obj:
        collisions = int((deployment.get("status") or {}).get("collisionCount") or 0)
        pod_hash = template_hash((deployment.get("spec") or {}).get("template") or {}, collisions)
        name = f"{_meta(deployment).get('name')}-{pod_hash}"
        targets = plan(s, RSView(name, 0), old)
        replicas, revision = targets.pop(name, 0), max([r.revision for r in old] + [0]) + 1
        namespace = str(_meta(deployment).get("namespace"))
        self._scale(deployment, s, targets, old)
        try:
            rs = self.client.create(new_replicaset(deployment, pod_hash, replicas, revision), namespace)
        except AlreadyExistsError:
            rs = self.client.get("ReplicaSet", name, namespace)
            if not owned_by(rs, deployment, DEPLOYMENT.kind):   # a hash collision: kube's collisionCount
                self.client.patch("Deployment", str(_meta(deployment).get("name")),
                                  {"status": {"collisionCount": collisions + 1}}, namespace, subresource="status")
                raise
        self.writes.record("ReplicaSet", name, rs, namespace)
        log.info("deployment %s/%s: created replica set %s", namespace, _meta(deployment).get("name"), name)
        if replicas:
            self.recorder.about("Deployment", deployment, "ScalingReplicaSet",
                                f"Scaled up replica set {name} from 0 to {replicas}")
        return rs

    def _sync_new(self, deployment: Obj, new: Obj, old: list[RSView]) -> Obj:
        """Kube's getNewReplicaSet on an existing RS: it has the highest revision (a rollback to an old
        template gives its RS the next one) and the Deployment's minReadySeconds; the Deployment
        carries the revision (`kubectl rollout undo`)."""
        namespace, revision = str(_meta(deployment).get("namespace")), revision_of(new)
        min_ready = int((deployment.get("spec") or {}).get("minReadySeconds") or 0)
        change: Obj = {}
        if revision <= (newest := max([r.revision for r in old] + [0])):   # also an adopted RS without one
            revision = newest + 1
            change["metadata"] = {"annotations": {REVISION: str(revision)}}
        if int((new.get("spec") or {}).get("minReadySeconds") or 0) != min_ready:
            change["spec"] = {"minReadySeconds": min_ready}
        if change:
            new = self.client.patch("ReplicaSet", str(_meta(new).get("name")), change, namespace)
            self.writes.record("ReplicaSet", str(_meta(new).get("name")), new, namespace)
        if revision_of(deployment) != revision:
            self.client.patch("Deployment", str(_meta(deployment).get("name")),
                              {"metadata": {"annotations": {REVISION: str(revision)}}}, namespace)
        return new

    def _scale(self, deployment: Obj, s: Strategy, targets: dict[str, int], views: list[RSView]) -> None:
        """Kube's scaleReplicaSet: each target RS gets its size and the replicas annotations (a patch
        only when one of them changes), and a ScalingReplicaSet event when its size changes."""
        namespace, was = str(_meta(deployment).get("namespace")), {v.name: v for v in views}
        for rs_name, replicas in targets.items():
            view = was.get(rs_name)
            before = view.replicas if view else 0
            if view is not None and before == replicas and annotated(s, view):
                continue
            rs = self.client.patch("ReplicaSet", rs_name, {"metadata": {"annotations": replicas_annotations(s)},
                                                           "spec": {"replicas": replicas}}, namespace)
            self.writes.record("ReplicaSet", rs_name, rs, namespace)
            if replicas != before:
                how = "up" if replicas > before else "down"
                self.recorder.about("Deployment", deployment, "ScalingReplicaSet",
                                    f"Scaled {how} replica set {rs_name} from {before} to {replicas}")

    def _delete(self, namespace: str, rs_name: str) -> None:
        try:
            gone = self.client.delete("ReplicaSet", rs_name, namespace)
        except NotFoundError:
            return
        self.writes.record_delete("ReplicaSet", rs_name, gone, namespace)
        log.info("deployment: deleted replica set %s/%s", namespace, rs_name)

    def _write_status(self, deployment: Obj, status: Obj) -> None:
        have = deployment.get("status") or {}
        if "collisionCount" in have:
            status["collisionCount"] = have["collisionCount"]
        if status != have:
            self.client.patch("Deployment", str(_meta(deployment).get("name")), {"status": status},
                              str(_meta(deployment).get("namespace")), subresource="status")
