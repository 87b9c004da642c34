"""NodePort allocation for Services: the pure choice, as kube-apiserver's service registry makes it
(`pkg/registry/core/service/storage/alloc.go`, `portallocator`).

Pure: the caller passes the node ports other Services hold (`used`) and a random number (`pick`).
- Services of type NodePort, and LoadBalancer unless `allocateLoadBalancerNodePorts: false`, get a
  node port per ServicePort; an explicit `nodePort` is honoured if it is in the range and free.
- Node ports are numbers, whatever the protocol: two Services never share one; inside one Service,
  ports with the same `port` (e.g. 53/TCP and 53/UDP) share theirs, as kube's `initNodePorts`.
- An update keeps the old node ports: a port without one gets the one of the old port of the same
  name (kube's `patchAllocatedValues`); a type change to ClusterIP or ExternalName drops the node
  ports left unchanged (kube's `dropTypeDependentFields`) and with them `externalTrafficPolicy`.
Refusals are kube's: `spec.ports[i].nodePort: Invalid value: 30080: provided port is already
allocated` and `... provided port is not in the valid range. The range of valid ports is 30000-32767`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from osdn.errors import FieldError

Spec = dict[str, Any]
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")
ALLOCATED = "provided port is already allocated"


@dataclass(frozen=True)
class NodePortRange:
    """Ports first..last (inclusive), kube's `--service-node-port-range` (default 30000-32767)."""

    first: int = 30000
    last: int = 32767

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.first <= port <= self.last

    @property
    def size(self) -> int:
        return self.last - self.first + 1


def parse_range(text: str) -> NodePortRange:
    """`30000-32767` (or `30000+2767`, or one port) as kube's `utilnet.ParsePortRange`; ValueError else."""
    text = text.strip()
    try:
        if "+" in text:
            first, plus = (int(x) for x in text.split("+", 1))
            last = first + plus
        else:
            first_s, _, last_s = text.partition("-")
            first, last = int(first_s), int(last_s or first_s)
    except ValueError:
        raise ValueError(f'invalid node port range "{text}": want FIRST-LAST, e.g. 30000-32767') from None
    if not 1 <= first <= last <= 65535:
        raise ValueError(f'invalid node port range "{text}": ports must be 1-65535, the first not above the last')
    return NodePortRange(first, last)


class NoFreeNodePort(Exception):
    """The range has no free port left (kube answers 500 `failed to allocate a nodePort: range is full`)."""


def needs_node_ports(spec: Mapping[str, Any]) -> bool:
    """Does a Service of this spec get node ports allocated (kube's `shouldAllocateNodePorts`)?"""
    kind = spec.get("type")
    return kind == "NodePort" or (kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False)


def _ports(spec: Mapping[str, Any]) -> list[Spec]:
    return [p for p in spec.get("ports") or [] if isinstance(p, dict)]


def node_ports_of(spec: Mapping[str, Any]) -> set[int]:
    """The node port numbers a stored Service's spec holds."""
    return {p["nodePort"] for p in _ports(spec) if isinstance(p.get("nodePort"), int) and p["nodePort"]}


def drop_type_dependent(spec: Spec, old_spec: Mapping[str, Any]) -> None:
    """A Service turned ClusterIP or ExternalName: its node ports left as they were are cleared, and
    `externalTrafficPolicy` if unchanged (kube's `dropTypeDependentFields`)."""
    if spec.get("type") in NODE_PORT_TYPES or old_spec.get("type") not in NODE_PORT_TYPES:
        return
    old = {(p.get("name") or "", p.get("nodePort")) for p in _ports(old_spec)}
    for p in _ports(spec):
        if p.get("nodePort") and (p.get("name") or "", p.get("nodePort")) in old:
            del p["nodePort"]
    if spec.get("externalTrafficPolicy") == old_spec.get("externalTrafficPolicy") and not spec.get("externalIPs"):
        spec.pop("externalTrafficPolicy", None)


def patch_allocated(spec: Spec, old_spec: Mapping[str, Any]) -> None:
    """An update whose ports lack node ports gets the old ones back, by port name, unless another
    port now uses that number (kube's `patchAllocatedValues`)."""
    if old_spec.get("type") not in NODE_PORT_TYPES or spec.get("type") not in NODE_PORT_TYPES:
        return
    taken = node_ports_of(old_spec) & node_ports_of(spec)
    by_name = {p.get("name") or "": p.get("nodePort") for p in _ports(old_spec)}
    for p in _ports(spec):
        old = by_name.get(p.get("name") or "")
        if not p.get("nodePort") and isinstance(old, int) and old and old not in taken:
            p["nodePort"] = old


def assign_node_ports(spec: Spec, old_ports: set[int], used: set[int], rng: NodePortRange,
                      pick: int) -> tuple[list[int], list[FieldError]]:
    """Give every port of `spec` that needs one a node port, in place. `old_ports`: what this
    Service held before (kept without a range check); `used`: what others hold. Returns the node
    ports newly taken, or the refusals (then nothing is taken). Raises NoFreeNodePort."""
    if spec.get("type") not in NODE_PORT_TYPES:
        return [], []
    taken: list[int] = []
    errs: list[FieldError] = []
    mine = set(old_ports)
    for i, p in enumerate(_ports(spec)):   # explicit ones first, so automatic ones never take them
        want = p.get("nodePort")
        if not isinstance(want, int) or not want or want in mine:
            continue
        problem = _problem(want, used, rng)
        if problem:
            errs.append(FieldError(f"spec.ports[{i}].nodePort", f"Invalid value: {want}: {problem}", "FieldValueInvalid"))
        else:
            mine.add(want)
            taken.append(want)
    if errs or not needs_node_ports(spec):
        return ([], errs) if errs else (taken, [])
    by_port = {p.get("port"): p["nodePort"] for p in _ports(spec) if p.get("nodePort")}
    for p in _ports(spec):
        if p.get("nodePort"):
            continue
        port = by_port.get(p.get("port")) or _free(used | mine, rng, pick + len(taken))
        p["nodePort"] = by_port[p.get("port")] = port
        if port not in mine:
            mine.add(port)
            taken.append(port)
    return taken, []


def _problem(port: int, used: set[int], rng: NodePortRange) -> str | None:
    if port not in rng:
        return f"provided port is not in the valid range. The range of valid ports is {rng}"
    return ALLOCATED if port in used else None


def _free(used: Iterable[int], rng: NodePortRange, pick: int) -> int:
    """A free port of `rng`: the one at a random offset (`pick`) or the next free after it."""
    held = set(used)
    start = pick % rng.size
    for k in range(rng.size):
        port = rng.first + (start + k) % rng.size
        if port not in held:
            return port
    raise NoFreeNodePort(f"range {rng} is full")
