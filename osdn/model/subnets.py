"""HostSubnet allocation: one pod subnet per node out of the ClusterNetwork ranges (IPv4).

No I/O, no clock, no randomness: the same calls give the same subnets (openshift-sdn's order).
- Ranges are tried in ClusterNetwork order. Within a range, subnet number n = 0 .. 2^subnetBits - 1
  (capped at 2^24); the search starts at the range's `next` and wraps; after a success next = n + 1,
  so a released subnet is handed out again only after the numbering wraps around.
- IPv4 bit rotation: when hostBits % 8 != 0 and the subnet bits cross an octet boundary, the subnet
  number is rotated so that all subnets with zeros in the shared octet come first (10.1.0.0/16, h=6
  gives 10.1.0.0/26, 10.1.1.0/26, ... 10.1.255.0/26, then 10.1.0.64/26, ...).
Invariants: `allocate` never returns a subnet that is allocated or that overlaps a marked foreign
CIDR; a full range is detected in O(1); a search passes at most (allocated + 1) candidates.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from osdn.errors import BadRequestError, ConflictError
from osdn.model.sdnconfig import NetworkConfig

MAX_SUBNETS_PER_RANGE = 1 << 24


class SubnetsExhaustedError(ConflictError):
    """Every range is full."""


def _parse(cidr: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError as err:
        raise BadRequestError(f"invalid CIDR address: {cidr}") from err
    if not isinstance(net, ipaddress.IPv4Network):
        raise BadRequestError(f"subnet {cidr} must be an IPv4 network")
    return net


@dataclass
class SubnetRange:
    """Subnets of `host_bits` host bits out of one cluster network CIDR."""

    network: ipaddress.IPv4Network
    host_bits: int
    next: int = 0
    allocated: set[int] = field(default_factory=set)           # subnet numbers
    foreign: set[ipaddress.IPv4Network] = field(default_factory=set)  # marked CIDRs that are not our subnets

    def __post_init__(self) -> None:
        free_bits = 32 - self.network.prefixlen
        if self.host_bits <= 0:
            raise BadRequestError("host capacity cannot be zero.")
        if self.host_bits > free_bits:
            raise BadRequestError("subnet capacity cannot be larger than number of networks available.")
        self.subnet_bits = free_bits - self.host_bits
        self.count = min(1 << self.subnet_bits, MAX_SUBNETS_PER_RANGE)
        h, s = self.host_bits, self.subnet_bits
        crosses = h % 8 != 0 and (h - 1) // 8 != (h + s - 1) // 8
        self.rot = 8 - h % 8 if crosses else 0      # subnet bits living in the shared octet

    @property
    def prefixlen(self) -> int:
        return 32 - self.host_bits

    def subnet(self, n: int) -> ipaddress.IPv4Network:
        """Subnet number n -> CIDR (rotation puts n's top `rot` bits into the shared octet)."""
        low_bits = self.subnet_bits - self.rot
        top, low = n >> low_bits, n & ((1 << low_bits) - 1)
        offset = ((low << self.rot) | top) << self.host_bits
        base = int(self.network.network_address) | offset
        return ipaddress.IPv4Network((base, self.prefixlen))

    def number(self, net: ipaddress.IPv4Network) -> int | None:
        """Inverse of `subnet`; None if `net` is not exactly one of this range's subnets."""
        if net.prefixlen != self.prefixlen or not net.subnet_of(self.network):
            return None
        x = (int(net.network_address) - int(self.network.network_address)) >> self.host_bits
        top, low = x & ((1 << self.rot) - 1), x >> self.rot
        n = (top << (self.subnet_bits - self.rot)) | low
        return n if n < self.count else None

    def allocate(self) -> ipaddress.IPv4Network | None:
        if len(self.allocated) >= self.count:
            self.next = 0
            return None
        for i in range(self.count):
            n = (self.next + i) % self.count
            if n in self.allocated:
                continue
            net = self.subnet(n)
            if any(net.overlaps(f) for f in self.foreign):
                continue
            self.allocated.add(n)
            self.next = n + 1
            return net
        self.next = 0
        return None

    def mark(self, net: ipaddress.IPv4Network) -> bool:
        if net.network_address not in self.network:
            return False
        n = self.number(net)
        if n is None:
            self.foreign.add(net)
        else:
            self.allocated.add(n)
        return True

    def release(self, net: ipaddress.IPv4Network) -> bool:
        if net.network_address not in self.network:
            return False
        n = self.number(net)
        if n is None:
            self.foreign.discard(net)
        else:
            self.allocated.discard(n)
        return True


class SubnetAllocator:
    """The master's HostSubnet allocator (openshift-sdn `SubnetAllocator`)."""

    def __init__(self) -> None:
        self.ranges: list[SubnetRange] = []

    @classmethod
    def from_config(cls, config: NetworkConfig) -> SubnetAllocator:
        alloc = cls()
        for entry in config.cluster_networks:
            alloc.add_range(str(entry.cidr), entry.host_subnet_length)
        return alloc

    def add_range(self, cidr: str, host_bits: int) -> None:
        self.ranges.append(SubnetRange(_parse(cidr), host_bits))

    def allocate(self) -> str:
        for rng in self.ranges:
            net = rng.allocate()
            if net is not None:
                return str(net)
        raise SubnetsExhaustedError("no subnets available.")

    def mark_allocated(self, cidr: str) -> None:
        """Restart: an existing HostSubnet's subnet is taken (idempotent)."""
        net = _parse(cidr)
        if not any(rng.mark(net) for rng in self.ranges):
            raise BadRequestError(f"network {cidr} does not belong to any known range")

    def release(self, cidr: str) -> None:
        net = _parse(cidr)
        if not any(rng.release(net) for rng in self.ranges):
            raise BadRequestError(f"network {cidr} does not belong to any known range")

    def is_allocated(self, cidr: str) -> bool:
        net = _parse(cidr)
        for rng in self.ranges:
            n = rng.number(net)
            if n is not None and n in rng.allocated:
                return True
        return any(net in rng.foreign for rng in self.ranges)


def gateway_for(subnet: str) -> str:
    """The pod gateway / node SDN IP: subnet base address | 1 (10.128.2.0/23 -> 10.128.2.1)."""
    net = _parse(subnet)
    return str(ipaddress.IPv4Address(int(net.network_address) | 1))
