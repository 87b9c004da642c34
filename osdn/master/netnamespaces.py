"""NetNamespace controller: one NetNamespace per Namespace, NetIDs, and the change-network annotation.

Key: a namespace name. Level-triggered: for each name it makes the NetNamespace match the
Namespace (create with a fresh NetID, `default` -> 0; delete when the Namespace is deleted, releasing
the NetID once no namespace uses it, also when the Namespace went while this master was down: the
NetNamespaces it makes carry an ownerReference to their Namespace; as the reference, a NetNamespace
made by hand without a Namespace is adopted and left alone) and applies a pending
`pod.network.openshift.io/multitenant.change-network` annotation (`global`, `join:<ns>`, `isolate`)
with `osdn.model.netid.compute_network_change`. Results are written back on the NetNamespace: the
new netid with the annotation removed, or the error in `CHANGE_ERROR_ANNOTATION` (plus a Warning
event), which `osdn adm pod-network` reports.

osdn refuses to make a project global or to join it with others while the resulting shared pod
network holds an EgressNetworkPolicy (admission refuses it first; this is the race-free check).
Only multitenant and networkpolicy modes have NetNamespaces; in subnet mode this controller idles.
Restart-safe: `prepare` re-marks the NetIDs of all existing NetNamespaces as allocated.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Hashable
from typing import Any

from osdn.client import Client
from osdn.errors import AlreadyExistsError, NotFoundError
from osdn.master.controller import Controller, Informers
from osdn.master.events import Recorder
from osdn.model.netid import (
    CHANGE_NETWORK_ANNOTATION,
    GLOBAL_VNID,
    NetIDAllocator,
    NetIDRegistry,
    compute_network_change,
)
from osdn.model.sdnconfig import NetworkConfig

log = logging.getLogger(__name__)
Obj = dict[str, Any]
CHANGE_ERROR_ANNOTATION = "network.osdn.io/change-network-error"
NETNS_API = "network.openshift.io/v1"


def blocking_policies(value: str, namespace: str, netids: dict[str, int], policy_namespaces: set[str]) -> list[str]:
    """Namespaces whose EgressNetworkPolicy would end up in a global or shared pod network. Pure.

    `global` affects the namespace itself; `join:<t>` the namespace plus every namespace that shares
    the target's NetID (all global ones if the target is global). `isolate` never blocks.
    """
    if value == "global":
        members = {namespace}
    elif value.startswith("join:"):
        target = value.split(":", 1)[1]
        target_id = netids.get(target)
        members = {namespace, target} | ({n for n, v in netids.items() if v == target_id}
                                         if target_id not in (None, GLOBAL_VNID) else set())
    else:
        return []
    return sorted(members & policy_namespaces)


def owned_by_namespace(netns: Obj) -> bool:
    """True if this controller made the NetNamespace for its Namespace (an ownerReference to it): it
    goes when the Namespace goes, even if this master never saw the delete (it happened while the
    master was down, e.g. an interrupted namespace delete the API server finished at start). Pure."""
    name = (netns.get("metadata") or {}).get("name")
    return any(o.get("kind") == "Namespace" and o.get("apiVersion") == "v1" and o.get("name") == name
               for o in (netns.get("metadata") or {}).get("ownerReferences") or [] if isinstance(o, dict))


def _annotations(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


class NetNamespaceController(Controller):
    name = "netnamespaces"

    def __init__(self, client: Client, informers: Informers, network: NetworkConfig,
                 recorder: Recorder, allocator: NetIDAllocator | None = None) -> None:
        super().__init__(client)
        self.network, self.recorder = network, recorder
        self.registry = NetIDRegistry(allocator or NetIDAllocator())
        self._gone: set[str] = set()              # namespaces seen deleted by this master
        self.namespaces = informers.on("Namespace", self._on_namespace)
        self.netnamespaces = informers.on("NetNamespace", self._on_event)
        self.policies = informers.get("EgressNetworkPolicy")

    def _on_event(self, _type: str, new: Obj | None, old: Obj | None) -> None:
        self.enqueue(((new or old) or {})["metadata"]["name"])

    def _on_namespace(self, type_: str, new: Obj | None, old: Obj | None) -> None:
        name = ((new or old) or {})["metadata"]["name"]
        if type_ == "DELETED":
            self._gone.add(name)
        else:
            self._gone.discard(name)
        self.enqueue(name)

    def prepare(self) -> None:
        stored = [(o["metadata"]["name"], int(o.get("netid") or 0)) for o in self.netnamespaces.items()]
        for warning in self.registry.load(stored):
            log.warning("%s", warning)
        log.info("netnamespaces: %d NetNamespaces adopted, %d NetIDs in use", len(stored),
                 self.registry.allocator.size - self.registry.allocator.free())
        for obj in self.namespaces.items() + self.netnamespaces.items():
            self.enqueue(obj["metadata"]["name"])

    # ---- reconcile ---------------------------------------------------------------------------
    def reconcile(self, key: Hashable) -> None:
        if not self.network.supports_vnids:
            return
        name = str(key)
        ns = self.namespaces.get(name)
        netns = self.writes.latest(self.netnamespaces, name)
        if netns is not None:
            self._adopt(name, int(netns.get("netid") or 0))
        if ns is None or (ns.get("metadata") or {}).get("deletionTimestamp"):
            if name in self._gone or netns is None or owned_by_namespace(netns):
                self._remove(name, netns)     # a NetNamespace made without a Namespace is left alone
        elif netns is None:
            self._create(ns)
        elif CHANGE_NETWORK_ANNOTATION in _annotations(netns):
            self._change(netns, _annotations(netns)[CHANGE_NETWORK_ANNOTATION])

    def _adopt(self, name: str, netid: int) -> None:
        """Make the registry agree with the stored NetNamespace (after a failed write, a hand edit)."""
        if self.registry.netid_of(name) != netid:
            for warning in self.registry.load([(name, netid)]):
                log.warning("%s", warning)

    def _remove(self, name: str, netns: Obj | None) -> None:
        self._gone.discard(name)
        if netns is not None:
            try:
                deleted = self.client.delete("NetNamespace", name)
                self.writes.record_delete("NetNamespace", name, deleted)
            except NotFoundError:
                pass
        if self.registry.netid_of(name) is not None:
            released = self.registry.release(name)
            log.debug("netnamespaces: %s deleted, netid %d has %d users", name, released,
                      self.registry.users(released))

    def _create(self, ns: Obj) -> None:
        name, uid = ns["metadata"]["name"], ns["metadata"].get("uid")
        netid, _ = self.registry.assign(name)
        owner = {"apiVersion": "v1", "kind": "Namespace", "name": name, "uid": uid, "controller": True}
        body = {"apiVersion": NETNS_API, "kind": "NetNamespace", "metadata": {"name": name, "ownerReferences": [owner]},
                "netname": name, "netid": netid}
        try:
            stored = self.client.create(body)
        except AlreadyExistsError:
            self.registry.release(name)       # someone else created it: adopt theirs next round
            raise
        except Exception:
            self.registry.release(name)
            raise
        self.writes.record("NetNamespace", name, stored)

    def _change(self, netns: Obj, value: str) -> None:
        name = netns["metadata"]["name"]
        policies = {p["metadata"].get("namespace", "") for p in self.policies.items()}
        blocked = blocking_policies(value, name, self.registry.items(), policies)
        if blocked:
            what = "make it global" if value == "global" else f"join it to {value.split(':', 1)[1]!r}"
            self._fail(netns, value, f"cannot {what}: project(s) {', '.join(blocked)} have an "
                       "EgressNetworkPolicy, which is not allowed in a global or shared pod network; "
                       "delete the policy first", remove=True)
            return
        change = compute_network_change(self.registry, name, value, self.network.mode)
        if change.error is not None:
            self._fail(netns, value, change.error, change.remove_annotation)
            return
        body = copy.deepcopy(netns)
        body["netid"] = change.netid
        annotations = _annotations(body)
        annotations.pop(CHANGE_NETWORK_ANNOTATION, None)
        annotations.pop(CHANGE_ERROR_ANNOTATION, None)
        body["metadata"]["annotations"] = annotations
        self.writes.record("NetNamespace", name, self.client.update(body))
        if change.netid != change.old_netid:
            self.recorder.event("NetNamespace", name, "NetIDChanged",
                                f"{value}: netid {change.old_netid} -> {change.netid}")

    def _fail(self, netns: Obj, value: str, message: str, remove: bool) -> None:
        name = netns["metadata"]["name"]
        body = copy.deepcopy(netns)
        annotations = _annotations(body)
        if remove:
            annotations.pop(CHANGE_NETWORK_ANNOTATION, None)
        wanted = f"{value}: {message}"
        if annotations.get(CHANGE_ERROR_ANNOTATION) == wanted and not remove:
            return
        annotations[CHANGE_ERROR_ANNOTATION] = wanted
        body["metadata"]["annotations"] = annotations
        self.writes.record("NetNamespace", name, self.client.update(body))
        self.recorder.event("NetNamespace", name, "ChangeNetworkFailed", f"{value}: {message}", warning=True)
