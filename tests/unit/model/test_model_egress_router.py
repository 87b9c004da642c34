"""The model reads egress router pods with the router's own grammar: it redirects what the router enforces."""

from __future__ import annotations

import pytest
from model_builders import cluster_network, namespace, pod, service, verdict

from osdn.model.cluster import ClusterState
from osdn.model.egress_redirect import nat_rules, parse_destinations, render_nft
from osdn.model.egress_router import EgressRouter, parse_egress_router
from osdn.model.objects import pod_from_obj

BASE = {"EGRESS_SOURCE": "192.168.12.99/24", "EGRESS_GATEWAY": "192.168.12.1"}


def router(destination: str, **env: str) -> EgressRouter | None:
    return parse_egress_router(pod_from_obj(pod("p", "r", "10.128.0.9", env={**BASE, **env,
                                                                           "EGRESS_DESTINATION": destination})))


def table(r: EgressRouter | None) -> list[tuple[int, str | None, int | None, str, int | None]]:
    assert r is not None and r.error is None, r
    return [(x.line, x.protocol, x.port, str(x.dest), x.dest_port) for x in r.redirects]


# Lines the old, looser model accepted (or read differently) and the router refuses or reads otherwise.
REFUSED = [
    ("80 TCP 10.4.5.6", "EGRESS_DESTINATION value '80 TCP 10.4.5.6' is invalid"),
    ("80\ttcp\t10.4.5.6", "EGRESS_DESTINATION value '80\ttcp\t10.4.5.6' is invalid"),
    ("80 tcp 10.4.5.6\nnot a line\n10.1.2.3", "EGRESS_DESTINATION value 'not a line' is invalid"),
    ("10.1.2.3\n80 tcp 10.4.5.6", "EGRESS_DESTINATION fallback IP must be the last line"),
    ("80 tcp 10.4.5.6\n80 tcp 10.7.8.9", "EGRESS_DESTINATION localport 80 is already used, must be unique for each "
                                         "destination"),
    ("80 tcp 999.4.5.6", "Invalid address: 999.4.5.6, not an IPv4 address nft accepts"),
    ("0800000 tcp 10.4.5.6", "Invalid port: 0800000, local port is not a port nft accepts"),
    ("80 tcp 10.4.5.6 70000", "Invalid port: 70000, must be in the range 1 to 65535"),
    ("", "EGRESS_DESTINATION unspecified"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_a_configuration_the_router_refuses_redirects_nothing(text: str, message: str) -> None:
    r = router(text)
    assert r is not None and r.error == message and r.redirects == ()
    assert r.lookup("TCP", 80) is None


def test_the_router_env_is_checked_first_as_the_router_does() -> None:
    r = parse_egress_router(pod_from_obj(pod("p", "r", "10.128.0.9", env={"EGRESS_DESTINATION": "10.1.2.3"})))
    assert r is not None and r.error == "EGRESS_SOURCE unspecified or invalid"


ACCEPTED = [
    ("# rules\n80 tcp 10.4.5.6\n8080 tcp 10.7.8.9 80\n\n# 8443 tcp 10.7.8.9 443\n10.1.2.3\n",
     [(2, "TCP", 80, "10.4.5.6", None), (3, "TCP", 8080, "10.7.8.9", 80), (6, None, None, "10.1.2.3", None)]),
    ("010 udp 10.4.5.6 011", [(1, "UDP", 8, "10.4.5.6", 9)]),  # bash arithmetic: octal, as the nft rule says
    ("  80   tcp   10.4.5.6  ", [(1, "TCP", 80, "10.4.5.6", None)]),
    ("80 tcp \\\n10.4.5.6\n53 udp 10.4.5.7", [(1, "TCP", 80, "10.4.5.6", None), (3, "UDP", 53, "10.4.5.7", None)]),
    ("8\\0 tcp 10.4.5.6", [(1, "TCP", 80, "10.4.5.6", None)]),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_the_model_redirects_what_the_router_installs(text: str, expected: list) -> None:
    assert table(router(text)) == expected
    parsed = parse_destinations(text)
    nft = render_nft(parsed.destinations, "192.168.12.99")
    for _, proto, port, dest, dest_port in expected:  # the same rule is in the router's nft text
        to = f"{dest}:{dest_port}" if dest_port else dest
        assert (f"{proto.lower()} dport {port} dnat to {to}" if proto else f"dnat to {to}") in nft
    assert len(nat_rules(parsed.destinations)) == len(expected)


@pytest.mark.parametrize(("mode", "is_router"), [("", True), ("init", True), ("legacy", True), ("unit-test", False),
                                                 ("http-proxy", False), ("dns-proxy", False)])
def test_only_init_and_legacy_modes_redirect(mode: str, is_router: bool) -> None:
    assert (router("10.1.2.3", EGRESS_ROUTER_MODE=mode) is not None) == is_router


def test_trace_names_the_refusal_and_does_not_redirect() -> None:
    env = {**BASE, "EGRESS_DESTINATION": "80 TCP 10.4.5.6"}
    s = ClusterState.from_objects([cluster_network("networkpolicy"), namespace("p2"), pod("p2", "client", "10.128.0.12"),
                                   pod("p2", "egress", "10.128.0.13", {"app": "egress"}, env=env),
                                   service("p2", "egress", "172.30.0.12", {"app": "egress"}, (("a", 80, "TCP", 80),))])
    v = verdict(s, "p2/client", "p2/egress", 80)
    assert v.target != "10.4.5.6:80"
    steps = [st for st in v.backends[0].steps if st.stage == "egress-router"] if v.backends else \
        [st for st in v.steps if st.stage == "egress-router"]
    assert any("EGRESS_DESTINATION value '80 TCP 10.4.5.6' is invalid" in st.detail for st in steps), steps
