"""The cluster-network-operator's rendering of an EgressRouter (bindata egress-router/*), conditions."""

from __future__ import annotations

import json
from typing import Any

from osdn.model.egress_cni import parse_netconf
from osdn.model.egress_operator import (
    conditions,
    covers,
    destinations,
    nad_config,
    overlay,
    owned_by,
    render_deployment,
    render_nad,
)


def router(**spec: Any) -> dict[str, Any]:
    base = {"mode": "Redirect", "networkInterface": {"macvlan": {"mode": "Bridge"}},
            "addresses": [{"ip": "192.168.12.99/24", "gateway": "192.168.12.1"}],
            "redirect": {"redirectRules": [{"destinationIP": "10.0.0.99", "port": 80, "protocol": "UDP"},
                                           {"destinationIP": "203.0.113.26", "port": 8080, "targetPort": 80,
                                            "protocol": "TCP"}],
                         "fallbackIP": "192.168.12.100"}}
    return {"apiVersion": "network.operator.openshift.io/v1", "kind": "EgressRouter",
            "metadata": {"name": "egress-router-redirect", "namespace": "p1", "uid": "u-1"}, "spec": {**base, **spec}}


def test_nad_config_is_the_cnos() -> None:
    conf = json.loads(nad_config(router()))
    assert list(conf) == ["cniVersion", "type", "name", "ip", "log_file", "log_level"]
    assert conf == {"cniVersion": "0.4.0", "type": "egress-router", "name": "egress-router-cni-nad",
                    "ip": {"addresses": ["192.168.12.99/24"], "destinations": ["80 UDP 10.0.0.99",
                                                                              "8080 TCP 203.0.113.26 80"],
                           "fallbackIP": "192.168.12.100", "gateway": "192.168.12.1"},
                    "log_file": "/tmp/egress-router-log", "log_level": "debug"}
    assert list(conf["ip"]) == ["addresses", "destinations", "fallbackIP", "gateway"]


def test_the_plugin_takes_the_rendered_config_fallback_last() -> None:
    cfg = parse_netconf(json.loads(nad_config(router())))
    assert [(r.protocol, r.port, str(r.dest_ip), r.dest_port) for r in cfg.rules] == [
        ("udp", 80, "10.0.0.99", None), ("tcp", 8080, "203.0.113.26", 80), (None, None, "192.168.12.100", None)]
    assert (cfg.address, cfg.gateway, cfg.mode, cfg.master) == ("192.168.12.99/24", "192.168.12.1", "bridge", None)


def test_destinations_rule_without_port_is_a_bare_ip() -> None:
    assert destinations([{"destinationIP": "1.2.3.4"}, {"destinationIP": "1.2.3.5", "port": 53,
                                                        "protocol": "SCTP"}]) == ["1.2.3.4", "53 SCTP 1.2.3.5"]


def test_non_default_macvlan_becomes_interface_args() -> None:
    conf = json.loads(nad_config(router(networkInterface={"macvlan": {"mode": "Private", "master": "ens4"}})))
    assert conf["interfaceArgs"] == {"mode": "private", "master": "ens4"}
    assert parse_netconf(conf).mode == "private" and parse_netconf(conf).master == "ens4"


def test_nad_and_deployment_objects() -> None:
    r = router()
    nad = render_nad(r, "4.x")
    owner = {"apiVersion": "network.operator.openshift.io/v1", "kind": "EgressRouter",
             "name": "egress-router-redirect", "uid": "u-1", "controller": True}
    assert nad["metadata"] == {"name": "egress-router-cni-nad", "namespace": "p1",
                               "annotations": {"release.openshift.io/version": "4.x"}, "ownerReferences": [owner]}
    dep = render_deployment(r, "4.x")
    assert dep["metadata"]["name"] == "egress-router-cni-deployment" and dep["metadata"]["labels"] == {
        "app": "egress-router-cni"} and dep["metadata"]["ownerReferences"] == [owner]
    assert dep["spec"]["replicas"] == 1 and dep["spec"]["selector"] == {"matchLabels": {"app": "egress-router-cni"}}
    notes = dep["spec"]["template"]["metadata"]["annotations"]
    assert json.loads(notes["k8s.v1.cni.cncf.io/networks"]) == [
        {"name": "egress-router-cni-nad", "default-route": ["192.168.12.1"]}]
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["/bin/sh", "-c", "sleep infinity"]
    assert owned_by(nad) == "u-1" and owned_by({"metadata": {}}) is None


def test_covers_and_overlay() -> None:
    want = {"spec": {"a": 1, "l": [{"x": 1}]}}
    assert covers({"spec": {"a": 1, "b": 2, "l": [{"x": 1, "y": 0}]}}, want)
    assert not covers({"spec": {"a": 2, "l": [{"x": 1}]}}, want)
    assert not covers({"spec": {"a": 1, "l": []}}, want)
    assert overlay({"metadata": {"rv": "3"}, "spec": {"a": 2, "b": 2}}, want) == {
        "metadata": {"rv": "3"}, "spec": {"a": 1, "b": 2, "l": [{"x": 1}]}}


def test_conditions_keep_transition_times() -> None:
    first = conditions([], False, "", 1000.0)
    assert [(c["type"], c["status"], c.get("reason")) for c in first] == [
        ("Available", "False", "Deploying"), ("Progressing", "True", "Deploying"), ("Degraded", "False", None)]
    later = conditions(first, True, "", 2000.0)
    assert [(c["type"], c["status"]) for c in later] == [("Available", "True"), ("Progressing", "False"),
                                                         ("Degraded", "False")]
    assert later[0]["lastTransitionTime"] != first[0]["lastTransitionTime"]
    assert later[2]["lastTransitionTime"] == first[2]["lastTransitionTime"]
    bad = conditions(later, False, "boom", 3000.0)
    assert bad[2] == {"type": "Degraded", "status": "True", "lastTransitionTime": bad[2]["lastTransitionTime"],
                      "reason": "EgressRouterError", "message": "boom"}
