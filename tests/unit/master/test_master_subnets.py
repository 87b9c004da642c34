"""HostSubnet allocator: openshift-sdn subnet_allocator_test.go vectors and restart behaviour."""

import time

import pytest

from osdn.errors import OsdnError
from osdn.model.sdnconfig import parse_network_config
from osdn.model.subnets import SubnetAllocator, SubnetsExhaustedError, gateway_for


def allocator(cidr, host_bits):
    alloc = SubnetAllocator()
    alloc.add_range(cidr, host_bits)
    return alloc


def take(alloc, n):
    return [alloc.allocate() for _ in range(n)]


def exhausted(alloc):
    with pytest.raises(SubnetsExhaustedError, match=r"^no subnets available\.$"):
        alloc.allocate()
    return True


def test_host_bits_8():                 # 10.1.SSSSSSSS.HHHHHHHH
    alloc = allocator("10.1.0.0/16", 8)
    assert take(alloc, 256) == [f"10.1.{n}.0/24" for n in range(256)]
    assert exhausted(alloc)


def test_host_bits_10():                # 10.1.SSSSSSHH.HHHHHHHH
    alloc = allocator("10.1.0.0/16", 10)
    assert take(alloc, 64) == [f"10.1.{n * 4}.0/22" for n in range(64)]
    assert exhausted(alloc)


def test_host_bits_6_rotates_shared_octet():    # 10.1.SSSSSSSS.SSHHHHHH
    alloc = allocator("10.1.0.0/16", 6)
    assert take(alloc, 256) == [f"10.1.{n}.0/26" for n in range(256)]
    assert take(alloc, 256) == [f"10.1.{n}.64/26" for n in range(256)]
    assert alloc.allocate() == "10.1.0.128/26"
    alloc.ranges[0].next = 1023
    assert alloc.allocate() == "10.1.255.192/26"
    assert alloc.allocate() == "10.1.1.128/26"      # wrapped to the next free (513)


def test_overlapping_octets_14_10():     # 10.000000SS.SSSSSSHH.HHHHHHHH
    alloc = allocator("10.0.0.0/14", 10)
    assert take(alloc, 4) == [f"10.{n}.0.0/22" for n in range(4)]
    assert take(alloc, 4) == [f"10.{n}.4.0/22" for n in range(4)]
    assert alloc.allocate() == "10.0.8.0/22"
    alloc.ranges[0].next = 255
    assert alloc.allocate() == "10.3.252.0/22"
    assert alloc.allocate() == "10.1.8.0/22"


def test_host_bits_14():
    alloc = allocator("10.1.0.0/16", 14)
    assert take(alloc, 4) == [f"10.1.{n}.0/18" for n in (0, 64, 128, 192)]
    assert exhausted(alloc)


def test_no_subnet_bits():
    alloc = allocator("10.1.0.0/16", 16)
    assert alloc.allocate() == "10.1.0.0/16"
    assert exhausted(alloc)


@pytest.mark.parametrize("cidr,bits,needle", [("10.1.0.0/16", 18, "cannot be larger"),
                                              ("10.1.0.0/16", 0, "cannot be zero"),
                                              ("10.1.0.0/33", 16, "invalid CIDR")], ids=str)
def test_invalid_ranges(cidr, bits, needle):
    with pytest.raises(OsdnError, match=needle):
        allocator(cidr, bits)


def test_released_subnet_reused_only_after_wraparound():
    alloc = allocator("10.1.0.0/16", 8)
    first = take(alloc, 3)
    alloc.release(first[0])
    assert alloc.allocate() == "10.1.3.0/24"
    take(alloc, 252)
    assert alloc.allocate() == first[0]
    assert exhausted(alloc)


def test_allocate_release_when_full():     # TestAllocateReleaseSubnet
    alloc = allocator("10.1.0.0/16", 14)
    subnets = take(alloc, 4)
    assert exhausted(alloc)
    alloc.release(subnets[2])
    assert alloc.allocate() == subnets[2]
    assert exhausted(alloc)


def test_mark_allocated_is_idempotent_and_checks_range():   # TestMarkAllocatedNetwork
    alloc = allocator("10.1.0.0/16", 14)
    subnets = take(alloc, 4)
    alloc.release(subnets[2])
    alloc.mark_allocated(subnets[2])
    alloc.mark_allocated(subnets[2])
    assert exhausted(alloc)
    with pytest.raises(OsdnError, match="does not belong to any known range"):
        alloc.mark_allocated("10.2.3.0/24")


def test_restart_marks_then_continues_without_collisions():
    alloc = allocator("10.128.0.0/14", 9)      # the OpenShift default: rotation spreads over 10.128-131
    for cidr in ("10.128.0.0/23", "10.129.0.0/23", "10.128.2.0/23"):
        alloc.mark_allocated(cidr)
    assert take(alloc, 4) == ["10.130.0.0/23", "10.131.0.0/23", "10.129.2.0/23", "10.130.2.0/23"]


def test_foreign_cidr_blocks_overlapping_subnets():
    alloc = allocator("10.1.0.0/16", 8)
    alloc.mark_allocated("10.1.0.0/23")         # an odd-sized legacy lease: covers .0 and .1
    assert alloc.allocate() == "10.1.2.0/24"
    assert alloc.is_allocated("10.1.0.0/23") and alloc.is_allocated("10.1.2.0/24")


def test_ranges_are_tried_in_cluster_network_order():
    cfg = parse_network_config({
        "clusterNetworks": [{"CIDR": "10.128.0.0/23", "hostSubnetLength": 8},
                            {"CIDR": "10.200.0.0/16", "hostSubnetLength": 12}],
        "serviceNetwork": "172.30.0.0/16", "pluginName": "subnet"})
    alloc = SubnetAllocator.from_config(cfg)
    assert take(alloc, 4) == ["10.128.0.0/24", "10.128.1.0/24", "10.200.0.0/20", "10.200.16.0/20"]


@pytest.mark.parametrize("subnet,gw", [("10.128.2.0/23", "10.128.2.1"), ("10.1.0.64/26", "10.1.0.65"),
                                       ("10.1.0.0/16", "10.1.0.1")], ids=str)
def test_gateway(subnet, gw):
    assert gateway_for(subnet) == gw


def test_thousand_nodes_with_churn_is_fast():
    alloc = allocator("10.128.0.0/14", 9)          # 512 subnets
    alloc.add_range("10.132.0.0/14", 9)
    start = time.perf_counter()
    live = take(alloc, 1000)
    for cidr in live[::3]:
        alloc.release(cidr)
    again = take(alloc, len(live[::3]))
    assert len(set(live) | set(again)) <= 1024 and len(set(again)) == len(again)
    assert time.perf_counter() - start < 2.0
