"""Conntrack entries of pod addresses: deleted when an address leaves its pod.

A flow's conntrack entry outlives the pod that opened it; the pod that gets the address next would
otherwise be treated as a party to those flows (its packets match their tuples; replies bypass the
checks). `delete_flows` removes every IPv4 entry whose original source or destination is one of the
addresses, inside one network namespace (a thread that entered it, `netns.run_in_netns`), over
ctnetlink in process (pyroute2): one dump of the table for all the addresses, then one delete per
matching entry (an entry that expired meanwhile is not an error). Running `conntrack -D` twice per
address cost two process starts and two table dumps each (~14 ms per address, so ~1.4 s of a
node's sync thread for a rollout of 100 pods). `delete_nat_flows` does the same by reply destination,
`list_destinations` reads every entry's original destination (the DNS hold's open connections).
`observe_flows` lists the entries to one destination with the `conntrack` tool (conntrack-tools)
run there by `nsenter` (what `adm trace` reads to show the endpoint a service connection was DNATed
to); `parse_flows` is its pure parser.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pyroute2 import Conntrack
from pyroute2.netlink.exceptions import NetlinkError

from osdn.errors import KernelError
from osdn.kernel.netns import run_in_netns

T = TypeVar("T")

_TUPLE = re.compile(r"src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)")


def netns_path(netns: str) -> str:
    return netns if os.path.isabs(netns) else f"/run/netns/{netns}"


def delete_flows(netns: str, addresses: Iterable[str]) -> int:
    """Delete the conntrack entries from or to any of `addresses` in `netns`; the number deleted."""
    wanted = frozenset(addresses)
    return _delete(netns, lambda orig, reply: orig.saddr in wanted or orig.daddr in wanted) if wanted else 0


def delete_nat_flows(netns: str, addresses: Iterable[str]) -> int:
    """Delete the conntrack entries translated to any of `addresses` (their reply goes to it: the
    connections SNATed to an egress IP this node no longer holds) in `netns`; the number deleted."""
    wanted = frozenset(addresses)
    return _delete(netns, lambda orig, reply: reply.daddr in wanted) if wanted else 0


def _delete(netns: str, match: Callable[[Any, Any], bool]) -> int:
    """Delete every IPv4 entry of `netns` whose (original, reply) tuples `match`; how many went."""
    def delete(ct: Conntrack) -> int:
        deleted = 0
        for orig in [e.tuple_orig for e in ct.dump_entries() if match(e.tuple_orig, e.tuple_reply)]:
            try:
                ct.entry("del", tuple_orig=orig)
                deleted += 1
            except NetlinkError as exc:
                if exc.code != errno.ENOENT:  # ENOENT: it expired or was deleted meanwhile
                    raise
        return deleted
    return _in(netns, delete)


def list_destinations(netns: str) -> set[str]:
    """The original destination address of every IPv4 conntrack entry in `netns` (open connections)."""
    return _in(netns, lambda ct: {str(e.tuple_orig.daddr) for e in ct.dump_entries()})


def _in(netns: str, fn: Callable[[Conntrack], T]) -> T:
    """`fn` with a ctnetlink socket opened in `netns` (closed afterwards); netlink errors as KernelError."""
    def body() -> T:
        ct = Conntrack()
        try:
            return fn(ct)
        finally:
            ct.close()

    try:
        return run_in_netns(netns, body)
    except NetlinkError as exc:
        raise KernelError(f"conntrack in netns {netns!r}: {os.strerror(exc.code)}") from exc


Tuple = tuple[str, str, int, int]  # src, dst, sport, dport


@dataclass(frozen=True)
class Flow:
    """One conntrack entry: the original and the reply tuple. A DNAT shows as a reply source that is
    not the original destination (the reply comes from the endpoint)."""

    protocol: str
    orig: Tuple
    reply: Tuple


def parse_flows(text: str) -> list[Flow]:
    """Pure: the TCP/UDP/SCTP entries of `conntrack -L` output (lines without two tuples are skipped)."""
    flows = []
    for line in text.splitlines():
        tuples = _TUPLE.findall(line)
        if len(tuples) >= 2 and line.split():
            (a, b, c, d), (e, f, g, h) = tuples[:2]
            flows.append(Flow(line.split()[0], (a, b, int(c), int(d)), (e, f, int(g), int(h))))
    return flows


def observe_flows(netns: str, protocol: str, orig_dst: str) -> list[Flow]:
    """The IPv4 `protocol` conntrack entries of `netns` whose original destination is `orig_dst`."""
    argv = ["nsenter", f"--net={netns_path(netns)}", "conntrack", "-L", "-f", "ipv4", "-p", protocol.lower(),
            "--orig-dst", orig_dst]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
    if proc.returncode != 0:
        raise KernelError(f"conntrack -L --orig-dst {orig_dst} in netns {netns!r}: "
                          f"{proc.stderr.strip() or proc.returncode}")
    return parse_flows(proc.stdout)
