"""The egress firewall (EgressNetworkPolicy) with real connections, in multitenant and networkpolicy labs.

Each seed example with the lab's addresses (203.0.113.80 for `1.2.3.0/24`, `www.ext.test` for
`www.foo.com`), in order and reversed; DNS names following `osdn lab dns set`;
the DNS race (a name whose address changes every 0.2 s with TTL 1 s while a pod resolves and
connects 500 times: no failure with the node's DNS hold, failures without it); pod-to-pod, services
and the cluster DNS never filtered; a policy change cuts an open connection it now denies; the
administrator's chain applies after the firewall and survives an agent restart.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import dns.resolver
import pytest
from labcheck import ECHO_PORT, ECHO_SERVER, EchoStream, wait_for
from labkit import Lab, make_lab, needs_agent

from osdn.kernel import netns
from osdn.lab import extdns
from osdn.lab.outside import add_outside
from osdn.lab.pods import probe
from osdn.lab.restart import agent_record, start_agent, wait_agent_ready
from osdn.model.servicenet import dns_service_ip

pytestmark = [pytest.mark.e2e, needs_agent]
WEB, WEB2 = "203.0.113.80", "203.0.113.81"
POOL = [f"203.0.113.{i}" for i in range(100, 120)]
ADMIN = "osdn_admin"


@pytest.fixture(scope="module", params=["multitenant", "networkpolicy"])
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    for the_lab in make_lab("efw" + request.param[0], request.param, 2):
        first, *rest = (*POOL, "203.0.113.90", "203.0.113.91", "203.0.113.92", "203.0.113.94")
        the_lab.cli("lab", "outside", "add", first, "--name", the_lab.info.name, "--dir", the_lab.info.dir)
        for ip in rest:  # what the command does, without a process start for each of 23 addresses
            add_outside(the_lab.info, ip)
        yield the_lab


def policy(lab: Lab, project: str, rules: list[tuple[str, str]], name: str = "default") -> None:
    """Create or replace `project`'s EgressNetworkPolicy: rules are (Allow|Deny, CIDR or DNS name)."""
    spec = [{"type": t, "to": {"cidrSelector" if "/" in to else "dnsName": to}} for t, to in rules]
    obj = {"kind": "EgressNetworkPolicy", "apiVersion": "network.openshift.io/v1",
           "metadata": {"name": name, "namespace": project}, "spec": {"egress": spec}}
    try:
        current = lab.client.get("EgressNetworkPolicy", name, project)
        obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        lab.client.update(obj, project)
    except Exception:  # noqa: BLE001 - not there yet
        lab.client.create(obj, project)


def drop_policy(lab: Lab, project: str, name: str = "default") -> None:
    lab.client.delete("EgressNetworkPolicy", name, project)


def dns_set(lab: Lab, name: str, *ips: str, ttl: int = 5) -> None:
    extdns.set_record(extdns.zone_path(lab.info.dir), name, list(ips), ttl)


def resolve(ns: str, name: str) -> list[str]:
    """A lookup as the pod's resolver makes it: the cluster DNS VIP, from the pod's namespace."""
    def ask() -> list[str]:
        res = dns.resolver.Resolver(configure=False)
        res.nameservers, res.lifetime = [dns_service_ip("172.30.0.0/16")], 2.0
        return sorted(r.address for r in res.resolve(name + ".", "A", search=False))
    return netns.run_in_netns(ns, ask)


def reach(lab: Lab, ns: str, ip: str, want: bool, within: float = 10.0) -> bool:
    """True once a connect to ip:80 from `ns` succeeds (`want`) or fails (not `want`), within `within` s."""
    return lab.can_connect(ns, ip, 80, want=want, within=within) == want


def client(lab: Lab, project: str, name: str = "box") -> tuple[str, str]:
    return lab.pod(name, project, "node1")


def test_seed_example_two_rules_and_reversed(lab: Lab) -> None:
    """Seed 000/001: Allow one range, Deny 0.0.0.0/0; reversed, everything is denied."""
    _, ns = client(lab, "s1")
    assert reach(lab, ns, WEB2, True)
    policy(lab, "s1", [("Allow", f"{WEB}/32"), ("Deny", "0.0.0.0/0")])
    assert reach(lab, ns, WEB2, False), "Deny 0.0.0.0/0 did not stop 203.0.113.81"
    assert reach(lab, ns, WEB, True, within=2)
    policy(lab, "s1", [("Deny", "0.0.0.0/0"), ("Allow", f"{WEB}/32")])
    assert reach(lab, ns, WEB, False), "reversed rules: the Allow after Deny 0.0.0.0/0 still let traffic out"
    drop_policy(lab, "s1")
    assert reach(lab, ns, WEB2, True), "deleting the policy did not restore egress"


def test_seed_example_cidr_dns_deny_and_reversed(lab: Lab) -> None:
    """Seed 002: Allow 1.2.3.0/24, Allow www.foo.com, Deny 0.0.0.0/0 (lab: .80/32 and www.ext.test)."""
    _, ns = client(lab, "s2")
    dns_set(lab, "www", "203.0.113.90")
    policy(lab, "s2", [("Allow", f"{WEB}/32"), ("Allow", "www.ext.test"), ("Deny", "0.0.0.0/0")])
    assert reach(lab, ns, WEB2, False)
    assert reach(lab, ns, WEB, True, within=2)
    assert resolve(ns, "www.ext.test") == ["203.0.113.90"]
    assert reach(lab, ns, "203.0.113.90", True, within=2), "the dnsName rule did not allow www.ext.test"
    policy(lab, "s2", [("Deny", "0.0.0.0/0"), ("Allow", "www.ext.test"), ("Allow", f"{WEB}/32")])
    assert reach(lab, ns, WEB, False) and reach(lab, ns, "203.0.113.90", False, within=2)


def test_dns_name_follows_lab_dns_set(lab: Lab) -> None:
    _, ns = client(lab, "d1")
    dns_set(lab, "api", "203.0.113.91", ttl=1)
    policy(lab, "d1", [("Allow", "api.ext.test"), ("Deny", "0.0.0.0/0")])
    assert reach(lab, ns, "203.0.113.92", False)
    # the master resolves the name for pods with other resolvers: the address is allowed without a query
    assert reach(lab, ns, "203.0.113.91", True, within=10)
    dns_set(lab, "api", "203.0.113.92", ttl=1)
    wait_for("the new answer", lambda: resolve(ns, "api.ext.test") == ["203.0.113.92"], timeout=30)
    assert probe(ns, "203.0.113.92", 80, timeout=1), "the answer reached the pod before its address was allowed"
    assert reach(lab, ns, "203.0.113.91", False, within=20), "the old address stayed allowed"


def race(lab: Lab, ns: str, tries: int = 500, enough: int = 0) -> tuple[int, int]:
    """Flip race.ext.test over POOL every 0.2 s (TTL 1 s) while the pod resolves and connects
    `tries` times (or until `enough` connects failed, if given); (failed connects, failed lookups)."""
    stop = threading.Event()

    def flip() -> None:
        i = 0
        while not stop.is_set():
            dns_set(lab, "race", POOL[i % len(POOL)], ttl=1)
            i += 1
            stop.wait(0.2)

    def loop() -> tuple[int, int]:
        res = dns.resolver.Resolver(configure=False)
        res.nameservers, res.lifetime = [dns_service_ip("172.30.0.0/16")], 3.0
        failed = lookups = 0
        for _ in range(tries):
            try:
                ip = res.resolve("race.ext.test.", "A", search=False)[0].address
            except dns.exception.DNSException:
                lookups += 1
                continue
            try:
                socket.create_connection((ip, 80), timeout=1).close()
            except OSError:
                failed += 1
                if failed == enough:
                    break
            time.sleep(0.01)
        return failed, lookups

    flipper = threading.Thread(target=flip, daemon=True)
    flipper.start()
    try:
        return netns.run_in_netns(ns, loop)
    finally:
        stop.set()
        flipper.join(timeout=5)


def test_dns_race_zero_failures_with_hold_and_failures_without(lab: Lab) -> None:
    _, ns = client(lab, "r1")
    dns_set(lab, "race", POOL[0], ttl=1)
    policy(lab, "r1", [("Allow", "race.ext.test"), ("Deny", "0.0.0.0/0")])
    assert reach(lab, ns, WEB, False)
    failed, lookups = race(lab, ns)
    assert (failed, lookups) == (0, 0), f"with the DNS hold: {failed} failed connects, {lookups} failed lookups"
    record = agent_record(lab.info, "node1")
    lab.stop_agent("node1")
    try:
        wait_agent_ready(lab.info, "node1", start_agent(lab.info, "node1", [*record.argv, "--no-egress-dns-hold"]))
        failed_off, _ = race(lab, ns, tries=300, enough=3)
    finally:
        lab.stop_agent("node1")
        wait_agent_ready(lab.info, "node1", start_agent(lab.info, "node1", list(record.argv)))
    assert failed_off > 0, "without the DNS hold the race never showed: the test cannot tell"


def test_pods_services_and_cluster_dns_are_never_filtered(lab: Lab) -> None:
    web_ip, _ = lab.pod("web", "u2", "node2")
    local_ip, _ = lab.pod("near", "u1", "node1")
    lab.client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "u2"},
                       "spec": {"ports": [{"port": 80, "targetPort": 80}]}}, "u2")
    lab.client.create({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "u2"},
                       "subsets": [{"addresses": [{"ip": web_ip}], "ports": [{"port": 80}]}]}, "u2")
    svc_ip = lab.client.get("Service", "web", "u2")["spec"]["clusterIP"]
    if lab.info.mode == "multitenant":
        lab.cli("adm", "pod-network", "make-projects-global", "u2")
    _, ns = client(lab, "u1")
    policy(lab, "u1", [("Deny", "0.0.0.0/0")])
    assert reach(lab, ns, WEB, False)
    assert reach(lab, ns, web_ip, True, within=2), "pod to pod (other node) was filtered"
    assert reach(lab, ns, local_ip, True, within=2), "pod to pod (same node) was filtered"
    assert reach(lab, ns, svc_ip, True, within=10), "pod to service was filtered"
    assert resolve(ns, "web.ext.test") == [WEB], "DNS to the cluster DNS was filtered"


def test_policy_change_cuts_an_open_connection(lab: Lab) -> None:
    _, ns = client(lab, "c1")
    web_ns = f"{lab.info.prefix}web"
    server = netns.spawn_in_netns(web_ns, [sys.executable, "-u", "-c", ECHO_SERVER], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        policy(lab, "c1", [("Allow", f"{WEB}/32"), ("Deny", "0.0.0.0/0")])
        assert lab.can_connect(ns, WEB, ECHO_PORT, within=10)
        with EchoStream(ns, WEB) as stream:
            wait_for("the stream to flow", lambda: stream.echoed >= 10)
            policy(lab, "c1", [("Deny", f"{WEB}/32")])
            assert not lab.can_connect(ns, WEB, ECHO_PORT, want=False, within=10), "new connections still open"
            assert not stream.progresses(within=3), "the open connection still gets answers after the Deny"
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)


def nft(lab: Lab, node: str, script: str) -> str:
    done = subprocess.run(["ip", "netns", "exec", lab.node(node).netns, "nft", *script.split()],
                          capture_output=True, text=True, check=True)
    return done.stdout


def admin_counter(lab: Lab, node: str) -> int:
    out = json.loads(nft(lab, node, f"-j list chain inet {ADMIN} output_rules"))
    return sum(e["counter"]["packets"] for o in out["nftables"] if "rule" in o
               for e in o["rule"]["expr"] if "counter" in e)


def test_admin_chain_applies_after_the_firewall_and_survives_restart(lab: Lab) -> None:
    peer_ip, _ = lab.pod("peer", "a2", "node2")
    _, ns = client(lab, "a1")
    if lab.info.mode == "multitenant":
        lab.cli("adm", "pod-network", "make-projects-global", "a2")
    nft(lab, "node1", f"add rule inet {ADMIN} output_rules ip daddr {WEB2} counter reject")
    nft(lab, "node1", f"add rule inet {ADMIN} output_rules ct state new limit rate over 1000/second drop")
    policy(lab, "a1", [("Deny", "203.0.113.92/32")])
    assert reach(lab, ns, WEB2, False, within=5), "the admin's reject did not apply"
    assert reach(lab, ns, WEB, True)
    seen = admin_counter(lab, "node1")
    assert reach(lab, ns, "203.0.113.92", False, within=10)
    assert admin_counter(lab, "node1") == seen, "traffic the egress firewall denied reached the admin chain"
    assert reach(lab, ns, peer_ip, True) and admin_counter(lab, "node1") == seen, "pod-to-pod went through it"
    lab.cli("lab", "restart", "node1", "--name", lab.info.name, "--dir", lab.info.dir)
    assert f"ip daddr {WEB2} counter" in nft(lab, "node1", f"list chain inet {ADMIN} output_rules")
    assert reach(lab, ns, WEB2, False, within=2), "the admin's rule stopped applying after an agent restart"
    assert reach(lab, ns, WEB, True)
