"""Pod IP address management for one node: leases out of the node's HostSubnet, kept in one file.

Side effects: reads and atomically rewrites one JSON file (write to a temp file, fsync, rename), so
a crash never leaves a half-written store and a restarted agent knows every lease it gave out.
Besides the IP, a lease records what the CNI ADD attached (pod, netns, interfaces), which is how the
agent knows its local pods after a restart.

Invariants:
- Never hands out the network address, the gateway (subnet .1) or the broadcast address.
- One lease per container id: `allocate` for a container that already has one returns it.
- Addresses are handed out round-robin after the last one allocated (like host-local), so a released
  address is not reused at once while other pods may still hold it in their caches.
- `release` is idempotent. Thread-safe (one lock): the CNI server writes, the sync loop reads.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from osdn.errors import ConflictError, OsdnError
from osdn.model.subnets import gateway_for


class IpamExhaustedError(ConflictError):
    """No free address left in the node's subnet."""


@dataclass(frozen=True)
class Lease:
    """One container's address and what was attached for it."""

    container_id: str
    ip: str
    namespace: str = ""
    pod: str = ""
    netns: str = ""
    ifname: str = "eth0"
    host_veth: str = ""
    created_pod: bool = False  # the agent created the Pod object (runtime without Kubernetes)


class Ipam:
    """Leases of subnet `subnet`, stored in `path`."""

    def __init__(self, path: Path, subnet: str) -> None:
        self.path = path
        self.subnet = ipaddress.IPv4Network(subnet)
        self.gateway = ipaddress.IPv4Address(gateway_for(subnet))
        self.leases: dict[str, Lease] = {}
        self.last = ""
        self._lock = threading.RLock()
        self._load()

    # -- queries ---------------------------------------------------------------------------------
    def get(self, container_id: str) -> Lease | None:
        with self._lock:
            return self.leases.get(container_id)

    def all(self) -> list[Lease]:
        with self._lock:
            return sorted(self.leases.values(), key=lambda lease: lease.container_id)

    @property
    def prefixlen(self) -> int:
        return self.subnet.prefixlen

    # -- changes ---------------------------------------------------------------------------------
    def allocate(self, lease: Lease) -> Lease:
        """Lease an address to `lease.container_id` (its `ip` is ignored); idempotent per container."""
        with self._lock:
            have = self.leases.get(lease.container_id)
            if have is not None:
                return have
            ip = self._next_free()
            got = replace(lease, ip=ip)
            self.leases[lease.container_id] = got
            self.last = ip
            self._save()
            return got

    def update(self, lease: Lease) -> None:
        """Replace the record of an existing lease (same container and IP)."""
        with self._lock:
            if self.leases.get(lease.container_id, lease).ip != lease.ip:
                raise ConflictError(f"lease of container {lease.container_id}: IP may not change")
            self.leases[lease.container_id] = lease
            self._save()

    def release(self, container_id: str) -> Lease | None:
        """Drop the lease of `container_id`; the lease, or None if there was none."""
        with self._lock:
            gone = self.leases.pop(container_id, None)
            if gone is not None:
                self._save()
            return gone

    # -- helpers ---------------------------------------------------------------------------------
    def _usable(self) -> tuple[int, int]:
        first = int(self.subnet.network_address) + 1
        last = int(self.subnet.broadcast_address) - 1
        return first, last

    def _next_free(self) -> str:
        first, last = self._usable()
        used = {int(ipaddress.IPv4Address(x.ip)) for x in self.leases.values()} | {int(self.gateway)}
        start = int(ipaddress.IPv4Address(self.last)) + 1 if self.last else first
        size = last - first + 1
        for i in range(size):
            cand = first + (start - first + i) % size
            if cand not in used:
                return str(ipaddress.IPv4Address(cand))
        raise IpamExhaustedError(f"no free pod address left in subnet {self.subnet} "
                                 f"({len(self.leases)} leases in {self.path})")

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            raise OsdnError(f"IPAM store {self.path} is unreadable: {exc}") from exc
        if data.get("subnet") != str(self.subnet):  # the node got another subnet: old leases are void
            return
        self.last = str(data.get("last") or "")
        for raw in data.get("leases") or []:
            lease = Lease(**raw)
            if ipaddress.IPv4Address(lease.ip) in self.subnet:
                self.leases[lease.container_id] = lease

    def _save(self) -> None:
        doc = {"subnet": str(self.subnet), "last": self.last, "leases": [asdict(x) for x in self.all()]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".ipam-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(doc, fh, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
