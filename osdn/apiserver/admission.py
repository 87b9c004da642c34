"""The admission chain: plugins that may mutate or reject a write before it is stored.

A plugin is any object with `name` and `admit(ctx)`; it raises an OsdnError to reject and may edit
`ctx.obj` (mutating admission). Plugins see the store read-only through `ctx.store`. Later issues
add plugins (RunOnceDuration, egress firewall placement, route host names, ...); the server builds
the chain from the master config file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from osdn.api.registry import KindInfo
from osdn.apiserver.auth import Attributes, Authorizer, User
from osdn.errors import Warnings
from osdn.store import Store

Obj = dict[str, Any]


@dataclass
class AdmissionContext:
    operation: str                 # CREATE | UPDATE | DELETE
    info: KindInfo
    user: User
    obj: Obj                       # the new object (for DELETE: the stored one)
    old: Obj | None
    store: Store
    authorizer: Authorizer
    subresource: str = ""
    warnings: Warnings = field(default_factory=Warnings)
    dry_run: bool = False          # nothing is stored: plugins that write elsewhere (quota charges) must not

    @property
    def namespace(self) -> str:
        return str((self.obj.get("metadata") or {}).get("namespace") or "")

    def user_may(self, verb: str, resource: str, subresource: str = "", group: str | None = None) -> bool:
        """RBAC check for the request's user in the object's namespace (group defaults to the kind's)."""
        return self.authorizer.allowed(self.user, Attributes(
            verb, self.info.group if group is None else group, resource, subresource, self.namespace))


class Plugin(Protocol):
    name: str

    def admit(self, ctx: AdmissionContext) -> None: ...


class AdmissionChain:
    def __init__(self, plugins: list[Plugin] | None = None) -> None:
        self.plugins: list[Plugin] = list(plugins or [])

    def admit(self, ctx: AdmissionContext) -> None:
        for plugin in self.plugins:
            plugin.admit(ctx)
