"""osdn.kernel.nft against the real kernel, in throw-away network namespaces only."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator

import pytest
from nsutil import PREFIX, leftovers, sh

from osdn.errors import KernelError
from osdn.kernel import nfgen
from osdn.kernel.nft import Nft, range_key

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

TABLE = "table inet osdn {\n set s { type ipv4_addr; }\n}\n"


@pytest.fixture
def netns() -> Iterator[str]:
    made: list[str] = []

    def make(tag: str) -> str:
        name = f"{PREFIX}nft-{tag}"
        sh("ip", "netns", "add", name)
        made.append(name)
        return name

    try:
        yield make  # type: ignore[misc]
    finally:
        for name in made:
            sh("ip", "netns", "del", name, check=False)
        assert not [n for n in leftovers() if "-nft-" in n]


def test_run_list_and_element_batches(netns) -> None:  # type: ignore[no-untyped-def]
    with Nft(netns("a")) as nft:
        assert nft.list_table_json("inet", "osdn") is None
        nft.run(TABLE)
        nft.add_elements("inet", "osdn", "s", [f"10.0.{i // 250}.{i % 250}" for i in range(1000)])
        nft.delete_elements("inet", "osdn", "s", ["10.0.0.0", "10.0.0.1"])
        objs = nft.list_table_json("inet", "osdn")
        assert objs is not None
        elems = next(o["set"]["elem"] for o in objs if "set" in o)
        assert len(elems) == 998 and "10.0.0.0" not in elems and "10.0.3.249" in elems
        nft.delete_table("inet", "osdn")
        assert not nft.table_exists("inet", "osdn")


def test_error_carries_nft_text_and_changes_nothing(netns) -> None:  # type: ignore[no-untyped-def]
    with Nft(netns("b")) as nft:
        bad = TABLE + "add element inet osdn s { 10.0.0.1, not-an-address }\n"
        with pytest.raises(KernelError) as err:
            nft.run(bad)
        assert "Error:" in str(err.value) and "not-an-address" in str(err.value)
        assert not nft.table_exists("inet", "osdn"), "a failed transaction must leave nothing behind"


def test_acts_only_in_its_own_namespace(netns) -> None:  # type: ignore[no-untyped-def]
    a, b = netns("c1"), netns("c2")
    with Nft(a) as na, Nft(b) as nb:
        na.run(TABLE)
        assert na.table_exists("inet", "osdn")
        assert not nb.table_exists("inet", "osdn")
    assert "osdn" in sh("ip", "netns", "exec", a, "nft", "list", "tables").stdout
    assert "osdn" not in sh("ip", "netns", "exec", b, "nft", "list", "tables").stdout


def test_missing_namespace_is_a_kernel_error() -> None:
    with pytest.raises(KernelError, match="no-such-ns"):
        Nft(f"{PREFIX}no-such-ns")


def test_closed_handle_refuses_work(netns) -> None:  # type: ignore[no-untyped-def]
    nft = Nft(netns("d"))
    nft.close()
    with pytest.raises(KernelError, match="closed"):
        nft.run(TABLE)


def test_generation_counts_each_namespaces_transactions_over_one_kept_socket(netns) -> None:  # type: ignore[no-untyped-def]
    """One generation step per committed transaction, also one that deletes a chain; another namespace's
    transactions and reads do not move it; every read goes over the same socket (a socket per read
    made the read after a chain deletion wait for the kernel); a queued stale reply is skipped."""
    with Nft(netns("g1")) as na, Nft(netns("g2")) as nb:
        start = na.generation()
        na.run("add table inet osdn\nadd chain inet osdn c\nadd map inet osdn m { type ipv4_addr : verdict; }")
        na.run("add element inet osdn m { 10.0.0.1 : jump c }")
        na.run("delete element inet osdn m { 10.0.0.1 }\ndelete chain inet osdn c")
        nb.run(TABLE)
        na.list_table_json("inet", "osdn")
        assert na.generation() == start + 3
        sockets = na._submit(lambda ctx: ctx.generation._sock.fileno())
        request = nfgen._HDR.pack(20, (nfgen.NFNL_SUBSYS_NFTABLES << 8) | nfgen.NFT_MSG_GETGEN, nfgen.NLM_F_REQUEST,
                                  0, 0) + nfgen._NFGEN.pack(0, 0, 0)
        na._submit(lambda ctx: ctx.generation._sock.send(request))  # its reply (the old generation) stays queued
        na.run("delete table inet osdn")
        assert na.generation() == start + 4
        assert na._submit(lambda ctx: ctx.generation._sock.fileno()) == sockets


def test_single_element_add_in_process_timing(netns) -> None:  # type: ignore[no-untyped-def]
    """Prints the figure (never fails on timing); checks the elements really landed."""
    with Nft(netns("e")) as nft:
        nft.run(TABLE)
        nft.add_elements("inet", "osdn", "s", [f"10.1.{i // 250}.{i % 250}" for i in range(10000)])
        times = []
        for i in range(200):
            t = time.perf_counter()
            nft.add_elements("inet", "osdn", "s", [f"10.2.0.{i}"])
            times.append(time.perf_counter() - t)
        objs = nft.list_table_json("inet", "osdn") or []
        assert len(next(o["set"]["elem"] for o in objs if "set" in o)) == 10200
        print(f"\nsingle element add into a 10k set, libnftables in-process: "
              f"median {statistics.median(times) * 1000:.3f} ms, max {max(times) * 1000:.3f} ms")


def test_single_values_leave_a_concatenated_interval_set_by_range_key(netns) -> None:  # type: ignore[no-untyped-def]
    """nftables 1.0.6 cannot delete `256 . tcp . 80` from such a set by that key; `range_key` can."""
    with Nft(netns("f")) as nft:
        nft.run("table inet osdn {\n set p { type mark . inet_proto . inet_service; flags interval; }\n}\n")
        nft.add_elements("inet", "osdn", "p", ["256 . tcp . 80", "256 . tcp . 9000-9010", "512 . udp . 53"])
        keys = ["256 . tcp . 80", "256 . tcp . 9000-9010"]
        nft.delete_elements("inet", "osdn", "p", [range_key(k) for k in keys])
        objs = nft.list_table_json("inet", "osdn") or []
        elems = next(o["set"]["elem"] for o in objs if "set" in o)
        assert len(elems) == 1 and "udp" in str(elems[0])
