"""DNS proxy mode falls back to the userspace forwarder when the kernel refuses before any table is
loaded (a container without NET_ADMIN, the host's root namespace), and stops with the kernel's message
when a table was loaded and a later change fails. The kernel boundary (netsetup) is faked."""

from __future__ import annotations

import io
from typing import Any

import pytest

from osdn.egress import main
from osdn.errors import KernelError

ENV = {"EGRESS_DNS_PROXY_DESTINATION": "53 203.0.113.53\n"}


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What run_workers was asked to run (instead of running it)."""
    calls: list[Any] = []
    monkeypatch.setattr(main, "run_workers", lambda n, fn: calls.append(n) or 0)
    monkeypatch.setattr(main.signal, "signal", lambda *a: None)
    return calls


def test_a_refused_kernel_falls_back_to_userspace(monkeypatch: pytest.MonkeyPatch, started: list[Any]) -> None:
    def refuse() -> None:
        raise KernelError("set net.ipv4.ip_forward: Operation not permitted")
    monkeypatch.setattr(main.netsetup, "enable_forwarding", refuse)
    err = io.StringIO()
    assert main.run_dns_proxy(ENV, io.StringIO(), err, resolv_conf="/nonexistent") == 0
    assert started, "the userspace forwarder was not started"
    assert err.getvalue() == ("cannot forward in the kernel (set net.ipv4.ip_forward: Operation not permitted); "
                              "forwarding in userspace\n")


def test_a_failure_after_a_table_was_loaded_stops_with_the_message(monkeypatch: pytest.MonkeyPatch,
                                                                    started: list[Any]) -> None:
    loads: list[str] = []

    def load(script: str) -> None:
        loads.append(script)
        if len(loads) > 1:
            raise KernelError("nft: table vanished")
    monkeypatch.setattr(main.netsetup, "enable_forwarding", lambda: None)
    monkeypatch.setattr(main.netsetup, "load_own_nft", load)

    def run_once(self: Any, stop: Any) -> None:
        self.update({})
        self.installed = ""        # force a second load, which fails
        self.update({})
    monkeypatch.setattr(main.KernelDnsProxy, "run", run_once)
    err = io.StringIO()
    assert main.run_dns_proxy(ENV, io.StringIO(), err, resolv_conf="/nonexistent") == 1
    assert not started and "nft: table vanished" in err.getvalue()
