"""Authentication (bearer tokens from a token file) and RBAC authorization.

The token file holds one line per token: `sha256(token),user,group1|group2,created,expires` (unix
seconds; an empty `expires` never expires); raw tokens are shown once, when created, and never
stored. A token's id is the first 12 hex digits of its hash: listing and revoking use it, so no
one needs the raw token to revoke it. Expiry is checked at every authentication against the
injected clock.

Authorization evaluates ClusterRoleBindings (cluster-wide) and RoleBindings (in their namespace)
against the ClusterRole they reference, like Kubernetes RBAC, for resource requests (verb, group,
resource[/subresource], name) and non-resource requests (`nonResourceURLs`, e.g. `/metrics`).
Members of the group `system:cluster-admins` may do everything. A RoleBinding may also reference a
Role of its own namespace.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osdn.errors import BadRequestError, ForbiddenError, NotFoundError, ObjectRef, UnauthorizedError
from osdn.store import Store

RBAC = "rbac.authorization.k8s.io"
CLUSTER_ADMINS = "system:cluster-admins"
AUTHENTICATED = "system:authenticated"
TOKEN_ID_LEN = 12
MIN_TOKEN_ID_LEN = 6


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()

    @property
    def is_cluster_admin(self) -> bool:
        return CLUSTER_ADMINS in self.groups


@dataclass(frozen=True)
class Attributes:
    """One request as the authorizer sees it: a resource request, or a non-resource `path`."""

    verb: str            # get list watch create update patch delete (bind escalate for RBAC)
    group: str
    resource: str        # plural
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""       # non-resource URL (/metrics); then group and resource are empty

    def describe(self, user: User) -> str:
        if self.path:
            return f'forbidden: User "{user.name}" cannot {self.verb} path "{self.path}"'
        res = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        where = f' in the namespace "{self.namespace}"' if self.namespace else " at the cluster scope"
        return (f'{res} is forbidden: User "{user.name}" cannot {self.verb} resource "{res}" in API group '
                f'"{self.group}"{where}')


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _rfc3339(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class TokenRecord:
    """One stored token: its hash, whom it authenticates, when it was made and when it expires."""

    digest: str
    user: User
    created: int | None = None
    expires: int | None = None

    @property
    def id(self) -> str:
        return self.digest[:TOKEN_ID_LEN]

    def line(self) -> str:
        return ",".join((self.digest, self.user.name, "|".join(self.user.groups),
                         "" if self.created is None else str(self.created),
                         "" if self.expires is None else str(self.expires)))

    @classmethod
    def parse(cls, line: str) -> TokenRecord:
        digest, name, groups, created, expires = (line.split(",") + ["", "", "", ""])[:5]
        return cls(digest, User(name, tuple(g for g in groups.split("|") if g)),
                   int(created) if created.isdigit() else None, int(expires) if expires.isdigit() else None)

    def to_obj(self) -> dict[str, Any]:
        """What listing shows: never the token, only its id."""
        return {"id": self.id, "user": self.user.name, "groups": list(self.user.groups),
                "created": _rfc3339(self.created), "expires": _rfc3339(self.expires)}


class TokenFile:
    """The server's token file; thread-safe; writes are atomic (temp file + rename).

    Several API servers may share one data dir (one machine, e.g. `osdn lab up --servers 3`): the file
    is re-read whenever it changed (a stat per authentication), and a change is made under an exclusive
    lock on `tokens.lock` on the freshly re-read records, so a token minted or revoked by one server
    holds on all of them at once."""

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, TokenRecord] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._refresh()

    def _refresh(self) -> None:
        """Re-read the file if it changed since we last read or wrote it."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        records = {}
        for line in self.path.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                record = TokenRecord.parse(line)
                records[record.digest] = record
        self._records, self._stamp = records, stamp

    @contextlib.contextmanager
    def _changing(self) -> Iterator[None]:
        """Change the records of the current file, excluding the other servers that share it."""
        with self._lock, open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._refresh()
            yield
            self._save()

    def authenticate(self, token: str) -> User:
        with self._lock:
            self._refresh()
        record = self._records.get(_hash(token))
        if record is None:
            raise UnauthorizedError("Unauthorized: the bearer token is not valid")
        if record.expires is not None and self.clock() >= record.expires:
            raise UnauthorizedError(f"Unauthorized: the bearer token {record.id} expired at "
                                    f"{_rfc3339(record.expires)}")
        return User(record.user.name, (*record.user.groups, AUTHENTICATED))

    def create(self, name: str, groups: tuple[str, ...] = (), expires_in: float | None = None) -> str:
        """Mint a token for `name` (valid `expires_in` seconds, or forever); returns the raw token (shown once)."""
        if not name or any(c in name for c in ",|\n") or name.startswith("system:") and name != "system:admin" \
                and not name.startswith("system:node:"):
            raise BadRequestError(f'invalid user name "{name}"')
        bad = [g for g in groups if not g or any(c in g for c in ",|\n")]
        if bad:
            raise BadRequestError(f'invalid group name "{bad[0]}"')
        if expires_in is not None and expires_in <= 0:
            raise BadRequestError(f"expiresIn: must be a positive number of seconds, got {expires_in}")
        token = secrets.token_urlsafe(32)
        now = int(self.clock())
        expires = None if expires_in is None else now + int(expires_in)
        with self._changing():
            self._records[_hash(token)] = TokenRecord(_hash(token), User(name, groups), now, expires)
        return token

    def record_of(self, token: str) -> TokenRecord:
        return self._records[_hash(token)]

    def list(self) -> list[TokenRecord]:
        with self._lock:
            self._refresh()
        return sorted(self._records.values(), key=lambda r: (r.user.name, r.created or 0, r.id))

    def revoke(self, token_id: str) -> TokenRecord:
        """Remove the token whose id starts with `token_id` (at least 6 hex digits, and only one may match)."""
        if len(token_id) < MIN_TOKEN_ID_LEN:
            raise BadRequestError(f'token id "{token_id}" is too short: give at least {MIN_TOKEN_ID_LEN} characters '
                                  "of the id that `osdn adm token list` shows")
        with self._changing():
            found = [r for r in self._records.values() if r.id.startswith(token_id)]
            if not found:
                raise NotFoundError(f'token "{token_id}" not found', ObjectRef("Token", token_id))
            if len(found) > 1:
                raise BadRequestError(f'token id "{token_id}" matches {len(found)} tokens: give more characters')
            del self._records[found[0].digest]
        return found[0]

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(r.line() + "\n" for r in self._records.values()))
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)
        st = self.path.stat()
        self._stamp = (st.st_ino, st.st_mtime_ns, st.st_size)


def _matches(values: list[str] | None, wanted: str) -> bool:
    values = values or []
    return "*" in values or wanted in values


def url_matches(patterns: list[str] | None, path: str) -> bool:
    """A nonResourceURLs entry matches its path exactly, or as a prefix when it ends in `*`."""
    return any(p == "*" or p == path or (p.endswith("*") and path.startswith(p[:-1])) for p in patterns or [])


def rule_allows(rule: dict[str, Any], attrs: Attributes) -> bool:
    if attrs.path:
        return _matches(rule.get("verbs"), attrs.verb) and url_matches(rule.get("nonResourceURLs"), attrs.path)
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    resources = rule.get("resources") or []
    return (_matches(rule.get("verbs"), attrs.verb)
            and _matches(rule.get("apiGroups"), attrs.group)
            and ("*" in resources or resource in resources or f"{attrs.resource}/*" in resources
                 or (attrs.subresource != "" and f"*/{attrs.subresource}" in resources))
            and (not rule.get("resourceNames") or attrs.name in rule["resourceNames"]))


def _subject_matches(subject: dict[str, Any], user: User) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "ServiceAccount":   # as kube: the user system:serviceaccount:NAMESPACE:NAME
        return user.name == f"system:serviceaccount:{subject.get('namespace')}:{name}"
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

    def role_ref_rules(self, role_ref: dict[str, Any], namespace: str = "") -> list[dict[str, Any]]:
        """The rules of the role a binding references (a Role: in the binding's `namespace`);
        NotFoundError if there is no such role."""
        kind, name = role_ref.get("kind"), str(role_ref.get("name") or "")
        if kind == "ClusterRole" or (kind == "Role" and namespace):
            items, _ = self.store.list(f"clusterroles.{RBAC}") if kind == "ClusterRole" else \
                self.store.list(f"roles.{RBAC}", namespace)
            for obj, _raw in items:
                if obj["metadata"]["name"] == name:
                    return list(obj.get("rules") or [])
        plural = "clusterroles" if kind == "ClusterRole" else "roles"
        raise NotFoundError(f'{plural}.{RBAC} "{name}" not found', ObjectRef(str(kind or "ClusterRole"), name))

    def rules_for(self, user: User, namespace: str) -> list[dict[str, Any]]:
        key = (user, namespace)
        if key not in self._cache:
            rules: list[dict[str, Any]] = []
            bindings, _ = self.store.list(f"clusterrolebindings.{RBAC}")
            ns_bindings = self.store.list(f"rolebindings.{RBAC}", namespace)[0] if namespace else []
            for obj, _raw in [*bindings, *ns_bindings]:
                if any(_subject_matches(s, user) for s in obj.get("subjects") or []):
                    try:
                        rules += self.role_ref_rules(obj.get("roleRef") or {}, obj["metadata"].get("namespace", ""))
                    except NotFoundError:
                        continue
            self._cache[key] = rules
        return self._cache[key]

    def allowed(self, user: User, attrs: Attributes) -> bool:
        if user.is_cluster_admin:
            return True
        return any(rule_allows(r, attrs) for r in self.rules_for(user, attrs.namespace))

    def check(self, user: User, attrs: Attributes) -> None:
        if not self.allowed(user, attrs):
            raise ForbiddenError(attrs.describe(user))
