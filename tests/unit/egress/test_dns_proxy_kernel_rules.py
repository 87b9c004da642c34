"""DNS proxy mode in the kernel: the nftables rules of each destination form and the re-resolution
that replaces a name's rule (fake clock, fake resolver, the scripts `apply` receives)."""

from __future__ import annotations

import concurrent.futures
import socket
import threading

import pytest

from osdn.egress.dns_config import parse_dns_destinations
from osdn.egress.dns_kernel import KernelDnsProxy, choose, remove_rules, render_rules

MATCH = "fib daddr type local tcp dport"


def body(script: str) -> list[str]:
    """The DNAT and reject rules of a script, in order."""
    return [line.strip() for line in script.splitlines() if line.strip().startswith(MATCH)]


@pytest.mark.parametrize(("lines", "addrs", "rules"), [
    ("9001 203.0.113.80", {}, [f"{MATCH} 9001 dnat to 203.0.113.80:9001"]),
    ("9100 203.0.113.81 9002", {}, [f"{MATCH} 9100 dnat to 203.0.113.81:9002"]),
    ("80 web.ext.test", {"web.ext.test": "203.0.113.80"}, [f"{MATCH} 80 dnat to 203.0.113.80:80"]),
    ("9200 web2.ext.test 9001", {"web2.ext.test": "203.0.113.81"}, [f"{MATCH} 9200 dnat to 203.0.113.81:9001"]),
    ("80 web.ext.test", {"web.ext.test": None}, [f"{MATCH} 80 reject with tcp reset"]),
    ("80 web.ext.test", {}, [f"{MATCH} 80 reject with tcp reset"]),
    ("# routes\n\n9001 203.0.113.80\n80 web.ext.test\n9200 web.ext.test 9001\n",
     {"web.ext.test": "203.0.113.81"},
     [f"{MATCH} 9001 dnat to 203.0.113.80:9001", f"{MATCH} 80 dnat to 203.0.113.81:80",
      f"{MATCH} 9200 dnat to 203.0.113.81:9001"]),
    ("053 203.0.113.53 0053", {}, [f"{MATCH} 53 dnat to 203.0.113.53:53"]),  # haproxy reads ports in decimal
    ("080 203.0.113.80 09", {}, [f"{MATCH} 80 dnat to 203.0.113.80:9"]),  # bash let them through; haproxy takes them
])
def test_rules_per_destination_form(lines, addrs, rules):
    assert body(render_rules(parse_dns_destinations(lines), addrs)) == rules


def test_script_replaces_the_table_and_masquerades_what_it_dnats():
    script = render_rules(parse_dns_destinations("9001 203.0.113.80\n80 web.ext.test"), {})
    assert script.startswith("table ip egress_dns_proxy\ndelete table ip egress_dns_proxy\n")
    assert "type nat hook prerouting priority dstnat" in script
    assert "type filter hook input priority filter; policy accept;\n    " + MATCH + " 80 reject" in script
    assert "type nat hook postrouting priority srcnat; policy accept;\n    ct status dnat masquerade\n" in script
    assert remove_rules() == "table ip egress_dns_proxy\ndelete table ip egress_dns_proxy\n"


@pytest.mark.parametrize(("current", "answer", "chosen"), [
    (None, ("10.0.0.1", "10.0.0.2"), "10.0.0.1"),
    ("10.0.0.2", ("10.0.0.1", "10.0.0.2"), "10.0.0.2"),  # kept while the answer holds it
    ("10.0.0.3", ("10.0.0.1", "10.0.0.2"), "10.0.0.1"),
    ("10.0.0.3", (), None),
])
def test_choose(current, answer, chosen):
    assert choose(current, answer) == chosen


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def proxy(lines: str, clock: Clock) -> tuple[KernelDnsProxy, list[str]]:
    loaded: list[str] = []
    return KernelDnsProxy(parse_dns_destinations(lines), loaded.append, clock=clock), loaded


def test_a_new_answer_replaces_the_rule_atomically():
    clock = Clock()
    p, loaded = proxy("9001 203.0.113.80\n80 web.ext.test", clock)
    p.update({"web.ext.test": ("203.0.113.80",)})
    assert body(loaded[-1])[1] == f"{MATCH} 80 dnat to 203.0.113.80:80"
    clock.now += 1
    p.update({"web.ext.test": ("203.0.113.80",)})
    assert len(loaded) == 1  # same answer: the kernel is not touched
    p.update({"web.ext.test": ("203.0.113.81",)})
    assert len(loaded) == 2
    assert loaded[-1].startswith("table ip egress_dns_proxy\ndelete table ip egress_dns_proxy\n")  # one transaction
    assert body(loaded[-1]) == [f"{MATCH} 9001 dnat to 203.0.113.80:9001", f"{MATCH} 80 dnat to 203.0.113.81:80"]


def test_a_failed_resolution_holds_the_last_answer_10_s_then_resets():
    clock = Clock()
    p, loaded = proxy("80 web.ext.test", clock)
    p.update({"web.ext.test": None})
    assert body(loaded[-1]) == [f"{MATCH} 80 reject with tcp reset"]  # never resolved: refused
    p.update({"web.ext.test": ("203.0.113.80",)})
    clock.now += 10
    p.update({"web.ext.test": None})
    assert body(loaded[-1]) == [f"{MATCH} 80 dnat to 203.0.113.80:80"]  # `hold valid 10s`
    clock.now += 0.5
    p.update({"web.ext.test": None})
    assert body(loaded[-1]) == [f"{MATCH} 80 reject with tcp reset"]
    p.update({"web.ext.test": ("203.0.113.81",)})
    assert body(loaded[-1]) == [f"{MATCH} 80 dnat to 203.0.113.81:80"]


def test_resolve_all_turns_errors_into_failures():
    def resolve(name: str, port: int) -> tuple[str, ...]:
        if name != "a.test":
            raise socket.gaierror(-2, "Name or service not known")
        return ("10.0.0.1",)

    p = KernelDnsProxy(parse_dns_destinations("1 a.test\n2 b.test"), lambda s: None, resolve=resolve)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        assert p.resolve_all(pool) == {"a.test": ("10.0.0.1",), "b.test": None}


def test_resolve_all_turns_a_silent_resolver_into_a_failure():
    hang = threading.Event()

    def resolve(name: str, port: int) -> tuple[str, ...]:
        hang.wait(30)  # answers only once the test is over
        return ("10.0.0.1",)

    p = KernelDnsProxy(parse_dns_destinations("3 slow.test"), lambda s: None, resolve=resolve, resolve_timeout=0.1)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        try:
            assert p.resolve_all(pool) == {"slow.test": None}
        finally:
            hang.set()


def test_run_installs_then_removes_the_table():
    loaded: list[str] = []
    stop = threading.Event()
    p = KernelDnsProxy(parse_dns_destinations("9001 203.0.113.80\n80 web.ext.test"), loaded.append,
                       resolve=lambda name, port: ("203.0.113.81",), resolve_every=0.01)

    def apply(script: str) -> None:
        loaded.append(script)
        stop.set()  # stop after the first load
    p.apply = apply
    p.run(stop)
    assert body(loaded[0]) == [f"{MATCH} 9001 dnat to 203.0.113.80:9001", f"{MATCH} 80 dnat to 203.0.113.81:80"]
    assert loaded[1:] == [remove_rules()]
