"""`osdn egress-router [http-proxy|dns-proxy]`: the three egress images' programs, driven by env.

`run_router` is egress-router.sh (EGRESS_ROUTER_MODE init, legacy (default), http-proxy, dns-proxy,
unit-test), `run_http_proxy` is egress-http-proxy.sh and `run_dns_proxy` is egress-dns-proxy.sh
(nftables DNAT in the pod's namespace; the userspace forwarder when EGRESS_DNS_PROXY_DEBUG is set);
each takes the environment and returns the exit code. A refused configuration prints the upstream
message as the last line on stderr and returns 1, before anything in the kernel is touched (the
rules are validated before the network is set up). Unit-test modes print what the script prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TextIO

from osdn.egress import netsetup
from osdn.egress.dns_config import (
    DnsDestination,
    check_numeric_ports,
    nameservers,
    parse_dns_destinations,
    parse_dns_servers,
    render_haproxy_config,
)
from osdn.egress.dns_kernel import KernelDnsProxy
from osdn.egress.dns_proxy import DnsProxy, DnsProxyOptions
from osdn.egress.http_acl import parse_http_destinations, render_squid_acls, render_squid_conf
from osdn.egress.http_proxy import HttpProxy
from osdn.egress.workers import run_workers, worker_count
from osdn.errors import KernelError
from osdn.model.egress_grammar import EgressConfigError
from osdn.model.egress_redirect import parse_destinations, parse_router_env, render_nft, render_rules

log = logging.getLogger(__name__)
Env = dict[str, str]
GC_THRESHOLD = 20000  # young objects between collections (Python's default is 700)


def _die(err: TextIO, message: str) -> int:
    err.write(message + "\n")
    err.flush()
    return 1


def run_router(env: Env, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        cfg = parse_router_env(env)
    except EgressConfigError as exc:
        return _die(err, exc.message)
    if cfg.debug:
        logging.getLogger("osdn").setLevel(logging.DEBUG)
    nft = ""
    if cfg.mode in ("init", "legacy", "unit-test"):
        parsed = parse_destinations(env.get("EGRESS_DESTINATION"))
        if cfg.mode == "unit-test":
            out.write(render_rules(parsed, cfg.source_ip))
            out.flush()
            return _die(err, parsed.error) if parsed.error else 0
        if parsed.error:
            return _die(err, parsed.error)
        try:
            nft = render_nft(parsed.destinations, cfg.source_ip)
        except EgressConfigError as exc:
            return _die(err, exc.message)
    try:
        netsetup.setup_network(cfg, later=cfg.mode == "legacy")
        if nft:
            netsetup.install_redirect(nft)
    except KernelError as exc:
        return _die(err, exc.message)
    log.info("egress router (%s mode): source %s, gateway %s", cfg.mode, cfg.source_ip, cfg.gateway)
    if cfg.mode == "legacy":
        _wait_until_killed()
    return 0


def _wait_until_killed() -> None:
    """Sleep until SIGTERM/SIGINT (the pod is deleted)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            signal.pause()


def _required(env: Env, name: str) -> str:
    if name not in env:
        raise EgressConfigError(f"{name}: unbound variable")
    return env[name]


def run_http_proxy(env: Env, out: TextIO = sys.stdout, err: TextIO = sys.stderr, port: int = 8080) -> int:
    try:
        acl = parse_http_destinations(_required(env, "EGRESS_HTTP_PROXY_DESTINATION"))
    except EgressConfigError as exc:
        return _die(err, exc.message)
    if env.get("EGRESS_HTTP_PROXY_MODE") == "unit-test":
        out.write(render_squid_acls(acl))
        return 0
    conf = render_squid_conf(acl).replace("http_port 8080", f"http_port {port}")
    out.write("Running the egress HTTP proxy with config:\n" + "".join(f"  {line}\n" for line in conf.splitlines())
              + "\n\n")
    out.flush()

    async def start() -> list[asyncio.Server]:
        resolved = {}
        for rule in acl.rules:
            if rule.kind == "dst" and rule.network is None:  # squid resolves such names at load time
                resolved[rule.value] = await HttpProxy(acl).addresses(rule.value, 0)
        return [await HttpProxy(acl, resolved=resolved).serve(port=port)]

    return run_workers(worker_count(env.get("EGRESS_PROXY_WORKERS")), lambda: _serve(start, err))


def run_dns_proxy(env: Env, out: TextIO = sys.stdout, err: TextIO = sys.stderr,
                  resolv_conf: str = "/etc/resolv.conf") -> int:
    unit_test = env.get("EGRESS_DNS_PROXY_MODE") == "unit-test"
    try:
        counts = parse_dns_servers(env.get("EGRESS_DNS_SERVERS", "")) if unit_test else {}
        dests = parse_dns_destinations(_required(env, "EGRESS_DNS_PROXY_DESTINATION"))
        if not unit_test:  # the script prints what bash accepted; haproxy then refuses what it cannot bind
            check_numeric_ports(dests)
    except EgressConfigError as exc:
        return _die(err, exc.message)
    try:
        with open(resolv_conf) as fh:
            servers = nameservers(fh.read())
    except OSError:
        servers = []
    conf = render_haproxy_config(dests, servers, counts)
    if unit_test:
        out.write(conf)
        return 0
    out.write("Running the egress DNS proxy with config:\n" + "".join(f"  {line}\n" for line in conf.splitlines())
              + "\n\n")
    out.flush()
    debug = bool(env.get("EGRESS_DNS_PROXY_DEBUG"))
    if not debug:
        code = _forward_in_kernel(dests, err)
        if code is not None:
            return code
    options = DnsProxyOptions(debug=debug)  # the userspace forwarder: with debug, one log line per connection
    return run_workers(worker_count(env.get("EGRESS_PROXY_WORKERS")), lambda: _forward(DnsProxy(dests, options), err))


def _forward_in_kernel(dests: list[DnsDestination], err: TextIO) -> int | None:
    """DNS proxy mode as nftables DNAT in this namespace until SIGTERM/SIGINT; the table goes on exit.

    None when the kernel refused before anything was installed (no NET_ADMIN in the container, the
    host's root namespace): the caller forwards in userspace instead, as before kernel forwarding.
    """
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    proxy = KernelDnsProxy(dests, netsetup.load_own_nft)
    try:
        netsetup.enable_forwarding()
        proxy.run(stop)
    except KernelError as exc:
        if proxy.ever_installed:
            return _die(err, exc.message)
        err.write(f"cannot forward in the kernel ({exc.message}); forwarding in userspace\n")
        err.flush()
        return None
    return 0


def _forward(proxy: DnsProxy, err: TextIO) -> int:
    """Run the DNS proxy's epoll loop until SIGTERM/SIGINT; a listen error is the exit message."""
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD)
    try:
        proxy.bind()
    except OSError as exc:
        proxy.loop.close()
        return _die(err, f"cannot listen: {exc}")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: proxy.stop())
    assert proxy.loop.waker is not None
    signal.set_wakeup_fd(proxy.loop.waker.w)  # the signal itself wakes the epoll wait
    try:
        proxy.run()
    finally:
        signal.set_wakeup_fd(-1)
    return 0


def _serve(start: Callable[[], Awaitable[list[asyncio.Server]]], err: TextIO) -> int:
    """Run servers until SIGTERM/SIGINT; a listen error is the exit message."""
    gc.freeze()  # the start-up objects live forever: collections no longer walk them
    gc.set_threshold(GC_THRESHOLD)  # each connection makes a few short-lived cycles (transport <-> protocol)

    async def main() -> int:
        try:
            servers = await start()
        except OSError as exc:
            return _die(err, f"cannot listen: {exc}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        for s in servers:
            s.close()
        return 0

    return _run(main())


def _run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop  # installed with uvicorn[standard]; a faster event loop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)
