"""DNS proxy mode in the kernel: one nftables DNAT per EGRESS_DNS_PROXY_DESTINATION line.

Instead of a userspace forwarder, the router pod's own namespace gets table `ip egress_dns_proxy`:
TCP to one of the pod's own addresses (`fib daddr type local`, what haproxy's `bind :PORT` accepts
from outside the pod) on a line's port is DNATed to its target IP and remote port, and connections
DNATed there are masqueraded, so the destination sees the address the pod's route to it leaves from
(EGRESS_SOURCE on macvlan0), exactly as haproxy's own connections do. A name target is resolved at
start and re-resolved every `resolve_every` (haproxy's 1 s); the rule keeps its address while the
answer still holds it (haproxy's `server dest1` keeps its IP), else takes the answer's first; a
failed resolution keeps the last good address for `hold_valid` (10 s, `hold valid`), after which
the port refuses connections with a TCP reset (haproxy with no server up). Each change replaces the
whole table in one nftables transaction (atomic); established connections keep their conntrack
mapping. `render_rules` is pure; `KernelDnsProxy` owns the clock, the resolver and the kernel.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from osdn.egress.dns_config import DnsDestination
from osdn.egress.dns_proxy import Resolve, system_resolve

log = logging.getLogger(__name__)
TABLE = "egress_dns_proxy"
Answer = tuple[str, ...] | None  # None: the resolution failed (error, timeout or no IPv4 address)


def render_rules(dests: list[DnsDestination], addrs: Mapping[str, str | None]) -> str:
    """The nftables transaction replacing table `ip egress_dns_proxy`: each line's port DNATed to
    its target (an IP, or the name's address in `addrs`), or reset when the name has none."""
    dnat, reject = [], []
    for d in dests:
        ip = addrs.get(d.target) if d.is_name else d.target
        match = f"fib daddr type local tcp dport {d.listen_port}"
        if ip is None:
            reject.append(f"    {match} reject with tcp reset\n")
        else:
            dnat.append(f"    {match} dnat to {ip}:{d.remote_port}\n")
    return (f"table ip {TABLE}\ndelete table ip {TABLE}\n"
            f"table ip {TABLE} {{\n"
            f"  chain prerouting {{\n    type nat hook prerouting priority dstnat; policy accept;\n"
            f"{''.join(dnat)}  }}\n"
            f"  chain input {{\n    type filter hook input priority filter; policy accept;\n"
            f"{''.join(reject)}  }}\n"
            f"  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;\n"
            f"    ct status dnat masquerade\n  }}\n}}\n")


def remove_rules() -> str:
    return f"table ip {TABLE}\ndelete table ip {TABLE}\n"


def choose(current: str | None, answer: tuple[str, ...]) -> str | None:
    """The address a name's rule uses: the current one while the answer holds it, else the first."""
    if current in answer:
        return current
    return answer[0] if answer else None


@dataclass
class _Name:
    addr: str | None = None
    good_at: float = -math.inf


@dataclass
class KernelDnsProxy:
    """Keeps the table in step with the names' answers; `apply` loads one nftables script."""

    dests: list[DnsDestination]
    apply: Callable[[str], None]
    resolve: Resolve = system_resolve
    clock: Callable[[], float] = time.monotonic
    resolve_every: float = 1.0
    hold_valid: float = 10.0
    resolve_timeout: float = 5.0
    installed: str = ""
    ever_installed: bool = False   # a table was loaded at least once (a later failure is no reason to fall back)
    names: dict[str, _Name] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.names = {d.target: _Name() for d in self.dests if d.is_name}

    def update(self, answers: Mapping[str, Answer]) -> None:
        """Take the answers (name -> addresses, None on failure); reload the table if it changed."""
        now = self.clock()
        for name, answer in answers.items():
            state = self.names[name]
            if answer:
                new = choose(state.addr, answer)
                state.good_at = now
            else:
                new = state.addr if now - state.good_at <= self.hold_valid else None
            if new != state.addr:
                log.warning("%s: %s -> %s", name, state.addr or "no address", new or "no address")
                state.addr = new
        script = render_rules(self.dests, {n: s.addr for n, s in self.names.items()})
        if script != self.installed:
            self.apply(script)
            self.installed = script
            self.ever_installed = True

    def resolve_all(self, pool: concurrent.futures.Executor) -> dict[str, Answer]:
        """Every name resolved at once (in `pool`); no answer within `resolve_timeout` is a failure."""
        futures = {name: pool.submit(self.resolve, name, 0) for name in self.names}
        done, _ = concurrent.futures.wait(futures.values(), timeout=self.resolve_timeout)
        out: dict[str, Answer] = {}
        for name, fut in futures.items():
            try:
                out[name] = fut.result() if fut in done else None
            except OSError as exc:
                log.warning("resolving %s failed: %s", name, exc)
                out[name] = None
        return out

    def run(self, stop: threading.Event) -> None:
        """Install the rules, re-resolve until `stop` is set, then remove the table."""
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="resolve")
        try:
            self.update(self.resolve_all(pool))
            while not stop.wait(self.resolve_every if self.names else None):
                self.update(self.resolve_all(pool))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)  # a hung lookup does not delay the exit
            if self.installed:
                self.apply(remove_rules())
                self.installed = ""
