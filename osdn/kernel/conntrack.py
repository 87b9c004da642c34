"""Conntrack entries of pod addresses: deleted when an address leaves its pod.

A flow's conntrack entry outlives the pod that opened it; the pod that gets the address next would
otherwise be treated as a party to those flows (its packets match their tuples; replies bypass the
checks). `delete_flows` removes every entry whose original source or destination is one of the
addresses, inside one network namespace, with the `conntrack` tool (conntrack-tools) run there by
`nsenter`, so nothing outside that namespace is touched.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable

from osdn.errors import KernelError

_DELETED = re.compile(r"(\d+) flow entries have been deleted")
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
