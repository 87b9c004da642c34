"""Authentication (bearer tokens from a token file) and RBAC authorization.

The token file holds one line per token: `sha256(token),user,group1|group2`; raw tokens are shown
once, when created, and never stored. Authorization evaluates ClusterRoleBindings (cluster-wide)
and RoleBindings (in their namespace) against ClusterRole rules, like Kubernetes RBAC; members of
the group `system:cluster-admins` may do everything.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osdn.errors import BadRequestError, ForbiddenError, UnauthorizedError
from osdn.store import Store

RBAC = "rbac.authorization.k8s.io"
CLUSTER_ADMINS = "system:cluster-admins"
AUTHENTICATED = "system:authenticated"


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()

    @property
    def is_cluster_admin(self) -> bool:
        return CLUSTER_ADMINS in self.groups


@dataclass(frozen=True)
class Attributes:
    """One request as the authorizer sees it."""

    verb: str            # get list watch create update patch delete
    group: str
    resource: str        # plural
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    def describe(self, user: User) -> str:
        res = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        where = f' in the namespace "{self.namespace}"' if self.namespace else " at the cluster scope"
        return (f'{res} is forbidden: User "{user.name}" cannot {self.verb} resource "{res}" in API group '
                f'"{self.group}"{where}')


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenFile:
    """The server's token file; thread-safe; writes are atomic (temp file + rename)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._users: dict[str, User] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                if line.strip() and not line.startswith("#"):
                    digest, name, groups = (line.split(",") + ["", ""])[:3]
                    self._users[digest] = User(name, tuple(g for g in groups.split("|") if g))

    def authenticate(self, token: str) -> User:
        user = self._users.get(_hash(token))
        if user is None:
            raise UnauthorizedError("Unauthorized: the bearer token is not valid")
        return User(user.name, (*user.groups, AUTHENTICATED))

    def create(self, name: str, groups: tuple[str, ...] = ()) -> str:
        """Mint a token for `name`; returns the raw token (shown once)."""
        if not name or any(c in name for c in ",|\n") or name.startswith("system:") and name != "system:admin" \
                and not name.startswith("system:node:"):
            raise BadRequestError(f'invalid user name "{name}"')
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._users[_hash(token)] = User(name, groups)
            lines = [f"{d},{u.name},{'|'.join(u.groups)}" for d, u in self._users.items()]
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("\n".join(lines) + "\n")
            os.chmod(tmp, 0o600)
            tmp.replace(self.path)
        return token


def _matches(values: list[str] | None, wanted: str) -> bool:
    values = values or []
    return "*" in values or wanted in values


def rule_allows(rule: dict[str, Any], attrs: Attributes) -> bool:
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    resources = rule.get("resources") or []
    return (_matches(rule.get("verbs"), attrs.verb)
            and _matches(rule.get("apiGroups"), attrs.group)
            and ("*" in resources or resource in resources or f"{attrs.resource}/*" in resources)
            and (not rule.get("resourceNames") or attrs.name in rule["resourceNames"]))


def _subject_matches(subject: dict[str, Any], user: User) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    return (kind == "User" and name == user.name) or (kind == "Group" and name in user.groups)


class Authorizer:
    """RBAC over the store; role lookups are cached and dropped on any RBAC change."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[tuple[User, str], list[dict[str, Any]]] = {}
        store.subscribe(None, None, store.current_rv(), self._on_event)

    def _on_event(self, event: Any) -> None:
        if event.key.resource.endswith(RBAC):
            self._cache.clear()

    def _role_rules(self, name: str) -> list[dict[str, Any]]:
        items, _ = self.store.list(f"clusterroles.{RBAC}")
        for obj, _raw in items:
            if obj["metadata"]["name"] == name:
                return list(obj.get("rules") or [])
        return []

    def rules_for(self, user: User, namespace: str) -> list[dict[str, Any]]:
        key = (user, namespace)
        if key not in self._cache:
            rules: list[dict[str, Any]] = []
            bindings, _ = self.store.list(f"clusterrolebindings.{RBAC}")
            ns_bindings = self.store.list(f"rolebindings.{RBAC}", namespace)[0] if namespace else []
            for obj, _raw in [*bindings, *ns_bindings]:
                if any(_subject_matches(s, user) for s in obj.get("subjects") or []):
                    rules += self._role_rules((obj.get("roleRef") or {}).get("name", ""))
            self._cache[key] = rules
        return self._cache[key]

    def allowed(self, user: User, attrs: Attributes) -> bool:
        if user.is_cluster_admin:
            return True
        return any(rule_allows(r, attrs) for r in self.rules_for(user, attrs.namespace))

    def check(self, user: User, attrs: Attributes) -> None:
        if not self.allowed(user, attrs):
            raise ForbiddenError(attrs.describe(user))
