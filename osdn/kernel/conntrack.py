"""Conntrack entries of pod addresses: deleted when an address leaves its pod.

A flow's conntrack entry outlives the pod that opened it; the pod that gets the address next would
otherwise be treated as a party to those flows (its packets match their tuples; replies bypass the
checks). `delete_flows` removes every entry whose original source or destination is one of the
addresses, inside one network namespace, with the `conntrack` tool (conntrack-tools) run there by
`nsenter`, so nothing outside that namespace is touched. `observe_flows` lists the entries to one
destination (what `adm trace` reads to show the endpoint a service connection was DNATed to);
`parse_flows` is its pure parser.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

from osdn.errors import KernelError

_DELETED = re.compile(r"(\d+) flow entries have been deleted")
_TUPLE = re.compile(r"src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)")
_ORIG_DST = re.compile(r"^\S+\s+\d+\s.*?\bdst=(\S+)", re.MULTILINE)  # the first dst= of a line: the original one


def netns_path(netns: str) -> str:
    return netns if os.path.isabs(netns) else f"/run/netns/{netns}"


def delete_flows(netns: str, addresses: Iterable[str]) -> int:
    """Delete the conntrack entries from or to any of `addresses` in `netns`; the number deleted."""
    total = 0
    for addr in sorted(set(addresses)):
        for side in ("--orig-src", "--orig-dst"):
            argv = ["nsenter", f"--net={netns_path(netns)}", "conntrack", "-D", side, addr]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
            found = _DELETED.search(done.stderr)
            if found is None:
                raise KernelError(f"conntrack -D {side} {addr} in netns {netns!r} failed "
                                  f"({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
            total += int(found.group(1))
    return total


def delete_nat_flows(netns: str, addresses: Iterable[str]) -> int:
    """Delete the conntrack entries translated to any of `addresses` (their reply goes to it: the
    connections SNATed to an egress IP this node no longer holds) in `netns`; the number deleted."""
    total = 0
    for addr in sorted(set(addresses)):
        argv = ["nsenter", f"--net={netns_path(netns)}", "conntrack", "-D", "--reply-dst", addr]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        found = _DELETED.search(done.stderr)
        if found is None:
            raise KernelError(f"conntrack -D --reply-dst {addr} in netns {netns!r} failed "
                              f"({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        total += int(found.group(1))
    return total


def list_destinations(netns: str) -> set[str]:
    """The original destination address of every IPv4 conntrack entry in `netns` (open connections)."""
    proc = subprocess.run(["nsenter", f"--net={netns_path(netns)}", "conntrack", "-L", "-f", "ipv4"],
                          capture_output=True, text=True, check=False, timeout=10)
    if proc.returncode != 0:
        raise KernelError(f"conntrack -L in netns {netns}: {proc.stderr.strip() or proc.returncode}")
    return {m.group(1) for m in _ORIG_DST.finditer(proc.stdout)}


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
