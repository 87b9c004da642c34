"""Value types of the oracle: connection endpoints, a connection, explanation steps, a verdict.

Pure data. A Verdict's `steps` are the ordered decisions that produced it, each naming the object
and the rule (kube-style field path) responsible, so `osdn adm trace` can print them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from osdn.model.objects import IPv4

POD, NODE, EXTERNAL, SERVICE = "pod", "node", "external", "service"
ALLOW, DENY, INFO = "allow", "deny", "info"
PROTOCOLS = ("TCP", "UDP", "SCTP")


@dataclass(frozen=True)
class Endpoint:
    """One end of a connection. `kind` says which of the optional fields are set."""

    kind: str  # pod | node | external | service
    pod: str | None = None  # ns/name (also set for a host-network pod, whose kind is node)
    ip: IPv4 | None = None
    node: str | None = None
    service: str | None = None  # ns/name

    def describe(self) -> str:
        if self.kind == POD:
            return f"pod {self.pod}" + (f" ({self.ip})" if self.ip else "")
        if self.kind == SERVICE:
            return f"service {self.service}" + (f" ({self.ip})" if self.ip else "")
        if self.kind == NODE:
            name = f"node {self.node}" if self.node else "node"
            via = f" via host-network pod {self.pod}" if self.pod else ""
            return f"{name}{via}" + (f" ({self.ip})" if self.ip else "")
        return f"external {self.ip}"


@dataclass(frozen=True)
class Connection:
    src: Endpoint
    dst: Endpoint
    protocol: str = "TCP"
    port: int = 80

    def describe(self) -> str:
        return f"{self.src.describe()} -> {self.dst.describe()} {self.protocol}/{self.port}"


@dataclass(frozen=True)
class Step:
    """One decision: `ref` is the object ("NetworkPolicy y/allow-x"), `rule` its field path."""

    stage: str  # mode, loopback, egress, ingress, service, egress-router, egress-firewall, source-address
    verdict: str  # allow | deny | info
    ref: str
    rule: str
    detail: str

    def __str__(self) -> str:
        where = " ".join(x for x in (self.ref, self.rule) if x)
        return f"[{self.stage}] {self.verdict.upper()}" + (f" {where}" if where else "") + f": {self.detail}"


@dataclass(frozen=True)
class Verdict:
    """The answer for one connection. Replies of an allowed connection are allowed (conntrack)."""

    connection: Connection
    allowed: bool
    steps: tuple[Step, ...]
    source_ip: IPv4 | None = None  # the source address the packet carries where it arrives
    target: str | None = None  # where it finally goes (after service DNAT / egress-router redirect)
    backends: tuple[Verdict, ...] = ()  # for a service: one verdict per endpoint

    @property
    def reason(self) -> str:
        """One line: the first deny step, else the deciding allow steps."""
        denies = [s for s in self.steps if s.verdict == DENY]
        if denies:
            return str(denies[0])
        allows = [str(s) for s in self.steps if s.verdict == ALLOW]
        return "; ".join(allows) or "allowed"
