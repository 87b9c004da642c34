"""What the network console (osdn.console) may ask of the API server, answered as the caller.

`read_objects` returns the objects of the model's kinds that the caller could list through the API
(cluster-wide where RBAC allows it, else namespace by namespace), plus what the answers need and
no other project's data: the ClusterNetwork (the plugin mode and CIDRs, cluster configuration) and,
for each project whose Namespace the caller may get, that Namespace and its NetNamespace (the
project's own NetID and egress IPs). The model never sees, and the console never shows, another
project's objects. `dry_run`
is server-side apply with dryRun: RBAC (patch), validation and admission run, nothing is stored.
`subscribe` feeds the console's change feed from the store's watch, filtered by the same RBAC.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from osdn.api.registry import KindInfo, by_kind, for_object
from osdn.apiserver.auth import Attributes, User
from osdn.apiserver.resources import Resources
from osdn.errors import FieldError, ValidationError
from osdn.model.cluster import MODEL_KINDS
from osdn.store import Event, Subscription

Obj = dict[str, Any]
MANAGER = "osdn-console"
_NAMESPACE = by_kind("Namespace")


class ConsoleBackend:
    def __init__(self, user_of: Callable[[Request], User], resources: Resources) -> None:
        self._user_of, self.resources, self.store = user_of, resources, resources.store
        self._kinds = {by_kind(k).resource: by_kind(k) for k in MODEL_KINDS}

    def user(self, request: Request) -> User:
        return self._user_of(request)

    def _may(self, user: User, verb: str, info: KindInfo, namespace: str = "", name: str = "") -> bool:
        scope = namespace if info.namespaced else name if info.kind == "Namespace" else ""
        return self.resources.authorizer.allowed(user, Attributes(verb, info.group, info.plural, "", scope, name))

    def readable(self, user: User, info: KindInfo, namespace: str, name: str) -> bool:
        """Whether `read_objects` gives `user` this object."""
        if self._may(user, "list", info) or info.kind == "ClusterNetwork":
            return True
        if info.kind in ("Namespace", "NetNamespace"):
            return self._may(user, "get", _NAMESPACE, name=name)
        return info.namespaced and self._may(user, "list", info, namespace)

    def read_objects(self, user: User) -> list[Obj]:
        namespaces = [o["metadata"]["name"] for o, _ in self.store.list(_NAMESPACE.resource)[0]]
        own = {ns for ns in namespaces if self._may(user, "get", _NAMESPACE, name=ns)}
        out: list[Obj] = []
        for info in self._kinds.values():
            if self._may(user, "list", info) or info.kind == "ClusterNetwork":  # the mode: no project's data
                out += [o for o, _ in self.store.list(info.resource)[0]]
            elif info.kind in ("Namespace", "NetNamespace"):  # a project's own NetID and egress IPs
                out += [o for o, _ in self.store.list(info.resource)[0] if o["metadata"]["name"] in own]
            elif info.namespaced:
                for ns in namespaces:
                    if self._may(user, "list", info, ns):
                        out += [o for o, _ in self.store.list(info.resource, ns)[0]]
        return out

    def dry_run(self, user: User, obj: Obj, namespace: str) -> Obj:
        info = for_object(obj)
        if info.resource not in self._kinds:
            message = f"kind {info.kind} does not change the network model (one of {', '.join(MODEL_KINDS)})"
            raise ValidationError(f"manifest: {message}", causes=[FieldError("kind", message)])
        meta: Obj = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
        name = str(meta.get("name") or "")
        if not name:
            raise ValidationError(f"{info.kind}: metadata.name: required",
                                  causes=[FieldError("metadata.name", "required")])
        ns = str(meta.get("namespace") or namespace) if info.namespaced else ""
        body = {**obj, "metadata": {**meta, **({"namespace": ns} if ns else {})}}
        return self.resources.apply(user, info, ns, name, body, MANAGER, True, "", dry_run=True).obj

    def subscribe(self, user: User, notify: Callable[[str], None]) -> Subscription:
        def deliver(event: Event) -> None:
            info = self._kinds.get(event.key.resource)
            if info is not None and self.readable(user, info, event.key.namespace, event.key.name):
                notify(info.kind)
        _, sub = self.store.subscribe(None, None, self.store.current_rv(), deliver)
        return sub
