"""NetID (VNID) allocation and the namespace -> NetID registry, including the change-network annotation.

No I/O, no clock; randomness only through an injected `Rng` (such as a `random.Random`). The objects here are in-memory
bookkeeping that the master's NetNamespace controller drives; they return decisions, the controller
writes NetNamespaces.

Invariants:
- NetIDs handed out are in [MIN_VNID, MAX_VNID] = [10, 16777215]; 0 is the global NetID (never
  allocated, never released); 1..9 are reserved and never used.
- `NetIDAllocator` never hands out an allocated NetID; `allocate_next` costs O(1) expected with an RNG
  and amortized O(1) without one, and O(allocated) in the worst case, never O(range).
- `NetIDRegistry`: a non-zero NetID is shared by several namespaces only through `join`; it is
  released when the last namespace using it goes away or moves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from osdn.errors import BadRequestError, ConflictError, NotFoundError, OsdnError
from osdn.model.sdnconfig import Mode

GLOBAL_VNID = 0
MIN_VNID = 10
MAX_VNID = (1 << 24) - 1
DEFAULT_NAMESPACE = "default"


class Rng(Protocol):
    """What the allocator needs of a random number generator (`random.Random` has it)."""

    def randrange(self, stop: int) -> int: ...
CHANGE_NETWORK_ANNOTATION = "pod.network.openshift.io/multitenant.change-network"


class RangeFullError(ConflictError):
    """No NetID left."""


class NotInRangeError(BadRequestError):
    """A NetID outside the allocator's range."""


class AlreadyAllocatedError(ConflictError):
    """Allocate(id) on an id that is taken."""


class NetIDAllocator:
    """Bitmap-equivalent allocator over [base, base+size).

    `rng=None`: `allocate_next` returns the lowest free NetID (deterministic; fine for tests and
    for humans reading `oc get netnamespaces`). With an `rng`: a random free NetID, as openshift-sdn
    (k8s AllocationMap random-scan: random start, then scan upwards with wrap-around).
    """

    def __init__(self, lo: int = MIN_VNID, hi: int = MAX_VNID, rng: Rng | None = None) -> None:
        if lo < MIN_VNID:
            raise BadRequestError(f"invalid netid base, must be greater than {MIN_VNID}")
        if hi < lo:
            raise BadRequestError("invalid netid size, must be greater than zero")
        if hi > MAX_VNID:
            raise BadRequestError(f"netid range exceeded max value {MAX_VNID}")
        self.base, self.size = lo, hi - lo + 1
        self._rng = rng
        self._used: set[int] = set()
        self._low = lo                  # no free NetID below this (deterministic mode hint)

    def __str__(self) -> str:
        return f"{self.base}-{self.base + self.size - 1}"

    def contains(self, netid: int) -> bool:
        return self.base <= netid < self.base + self.size

    def free(self) -> int:
        return self.size - len(self._used)

    def has(self, netid: int) -> bool:
        return netid in self._used

    def allocate(self, netid: int) -> None:
        if not self.contains(netid):
            raise NotInRangeError("provided netid is not in the valid range")
        if netid in self._used:
            raise AlreadyAllocatedError("provided netid is already allocated")
        self._used.add(netid)

    def allocate_next(self) -> int:
        if len(self._used) >= self.size:
            raise RangeFullError("range is full")
        start = self._low if self._rng is None else self.base + self._rng.randrange(self.size)
        netid = self._scan_from(start)
        self._used.add(netid)
        if self._rng is None:
            self._low = netid + 1
        return netid

    def release(self, netid: int) -> None:
        """Releasing a free or out-of-range NetID is a no-op (as the reference)."""
        if netid in self._used:
            self._used.discard(netid)
            self._low = min(self._low, netid)

    def _scan_from(self, start: int) -> int:
        """First free id at or after `start`, wrapping; each step passes an allocated id."""
        end = self.base + self.size
        netid = start if start < end else self.base
        while netid in self._used:
            netid += 1
            if netid >= end:
                netid = self.base
        return netid


class Action(StrEnum):
    GLOBAL = "global"
    JOIN = "join"
    ISOLATE = "isolate"


def parse_change_network(value: str) -> tuple[Action, str]:
    """`global` | `join:<ns>` | `isolate` -> (action, join target); BadRequestError if malformed."""
    parts = value.split(":")
    if parts[0] == Action.JOIN.value:
        if len(parts) != 2 or not parts[1]:
            raise BadRequestError(f"invalid namespace for join pod network: {value}")
        return Action.JOIN, parts[1]
    if parts[0] in (Action.GLOBAL.value, Action.ISOLATE.value) and len(parts) == 1:
        return Action(parts[0]), ""
    raise BadRequestError(f"invalid ChangePodNetworkAnnotation: {value}")


class NetIDRegistry:
    """namespace -> NetID, with reference counting of shared (joined) NetIDs."""

    def __init__(self, allocator: NetIDAllocator | None = None) -> None:
        self.allocator = allocator or NetIDAllocator()
        self._ids: dict[str, int] = {}
        self._users: Counter[int] = Counter()

    def __len__(self) -> int:
        return len(self._ids)

    def netid_of(self, namespace: str) -> int | None:
        return self._ids.get(namespace)

    def users(self, netid: int) -> int:
        return self._users[netid]

    def items(self) -> dict[str, int]:
        return dict(self._ids)

    def load(self, existing: Iterable[tuple[str, int]]) -> list[str]:
        """Restart: adopt (name, netid) of stored NetNamespaces. Duplicates (joins) are fine.

        Returns warnings for NetIDs that are neither 0 nor in range (kept, but never allocated).
        """
        warnings = []
        for name, netid in existing:
            if name in self._ids:
                self._forget(name)
            if netid != GLOBAL_VNID and not self.allocator.contains(netid):
                warnings.append(f"NetNamespace {name!r}: netid {netid} is outside {self.allocator}")
            elif netid != GLOBAL_VNID and not self.allocator.has(netid):
                self.allocator.allocate(netid)
            self._set(name, netid)
        return warnings

    def assign(self, namespace: str) -> tuple[int, bool]:
        """NetID for a namespace, allocating if new (`default` -> 0). Returns (netid, created)."""
        if namespace in self._ids:
            return self._ids[namespace], False
        netid = GLOBAL_VNID if namespace == DEFAULT_NAMESPACE else self.allocator.allocate_next()
        self._set(namespace, netid)
        return netid, True

    def release(self, namespace: str) -> int:
        """Forget a namespace; its NetID goes back to the pool once no namespace uses it."""
        if namespace not in self._ids:
            raise NotFoundError(_not_found(namespace))
        return self._forget(namespace)

    def move(self, namespace: str, netid: int) -> None:
        """Point a known namespace at `netid` (already reserved or shared); frees the old if unused."""
        self._forget(namespace)
        self._set(namespace, netid)

    def _set(self, namespace: str, netid: int) -> None:
        self._ids[namespace] = netid
        self._users[netid] += 1

    def _forget(self, namespace: str) -> int:
        netid = self._ids.pop(namespace)
        self._users[netid] -= 1
        if self._users[netid] <= 0:
            del self._users[netid]
            if netid != GLOBAL_VNID:
                self.allocator.release(netid)
        return netid


@dataclass(frozen=True)
class NetworkChange:
    """Outcome of a change-network annotation. On success `netid` is set and the registry already
    holds it; the controller writes `netid` and removes the annotation. On error `netid` is None and
    the annotation is removed only if `remove_annotation` (networkpolicy mode)."""

    namespace: str
    netid: int | None = None
    old_netid: int | None = None
    error: str | None = None
    remove_annotation: bool = True


def compute_network_change(registry: NetIDRegistry, namespace: str, value: str, mode: Mode) -> NetworkChange:
    """Apply `pod.network.openshift.io/multitenant.change-network: <value>` of `namespace`."""
    if mode is not Mode.MULTITENANT:
        return NetworkChange(namespace, error="network plugin does not allow NetNamespace renumbering")
    try:
        action, target = parse_change_network(value)
        old = registry.netid_of(namespace)
        if old is None:
            raise NotFoundError(_not_found(namespace))
        new = _target_netid(registry, namespace, old, action, target)
    except OsdnError as err:
        return NetworkChange(namespace, old_netid=registry.netid_of(namespace), error=err.message,
                             remove_annotation=False)
    if new != old:
        registry.move(namespace, new)
    return NetworkChange(namespace, new, old)


def _target_netid(registry: NetIDRegistry, namespace: str, old: int, action: Action, target: str) -> int:
    """The NetID after the change. For isolate, a fresh NetID is reserved here (registry updated by caller).

    Deviation from the reference: isolating a namespace that is alone on NetID 0 allocates a NetID
    (the reference kept 0, leaving the namespace global).
    """
    if action is Action.GLOBAL:
        return GLOBAL_VNID
    if action is Action.JOIN:
        netid = registry.netid_of(target)
        if netid is None:
            raise NotFoundError(_not_found(target))
        return netid
    if namespace == DEFAULT_NAMESPACE:
        raise BadRequestError('network isolation for namespace "default" is not allowed')
    if old != GLOBAL_VNID and registry.users(old) == 1:
        return old
    return registry.allocator.allocate_next()


def _not_found(namespace: str) -> str:
    return f'netid not found for namespace "{namespace}"'
