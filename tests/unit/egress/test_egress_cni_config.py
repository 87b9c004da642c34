"""The egress-router CNI plugin's config (seed 004, reference D): grammar, errors, the NAT it renders."""

from __future__ import annotations

import json
from typing import Any

import pytest

from osdn.egress import cni
from osdn.model.egress_cni import parse_netconf
from osdn.model.egress_grammar import EgressConfigError
from osdn.model.egress_redirect import render_nat


def conf(destinations: list[str] | None = None, **over: Any) -> dict[str, Any]:
    ip = {"addresses": ["192.168.3.10/24"], "gateway": "192.168.3.1",
          "destinations": ["80 tcp 10.4.5.6"] if destinations is None else destinations}
    return {"cniVersion": "0.4.0", "name": "egress-router-cni-nad", "type": "egress-router", "ip": ip, **over}


def prerouting(destinations: list[str]) -> list[str]:
    cfg = parse_netconf(conf(destinations))
    text = render_nat("egress_cni", list(cfg.rules), cfg.source_ip, snat_oif="net1")
    return [line.strip() for line in text.splitlines() if "dnat" in line]


# The reference's mapping table (ifname net1, address 192.168.3.10/24), as nft rules.
MAPPING = [
    ("10.1.2.3", 'iifname "eth0" dnat to 10.1.2.3'),
    ("80 tcp 10.4.5.6", 'iifname "eth0" tcp dport 80 dnat to 10.4.5.6'),
    ("8080 TCP 203.0.113.26 80", 'iifname "eth0" tcp dport 8080 dnat to 203.0.113.26:80'),
    ("80 UDP 10.100.3.1", 'iifname "eth0" udp dport 80 dnat to 10.100.3.1'),
    ("9000 sctp 10.100.3.1 0", 'iifname "eth0" sctp dport 9000 dnat to 10.100.3.1:0'),
    ("0 tcp 10.4.5.6", 'iifname "eth0" tcp dport 0 dnat to 10.4.5.6'),  # Atoi and 0..65535: 0 passes
    ("+80 tcp 10.4.5.6 0080", 'iifname "eth0" tcp dport 80 dnat to 10.4.5.6:80'),  # Atoi: sign, decimal
]


@pytest.mark.parametrize(("entry", "rule"), MAPPING)
def test_reference_mapping(entry: str, rule: str) -> None:
    assert prerouting([entry]) == [rule]


def test_snat_only_out_of_the_interface_and_rules_in_order() -> None:
    cfg = parse_netconf(conf(["80 tcp 10.4.5.6", "10.1.2.3"]))
    text = render_nat("egress_cni", list(cfg.rules), cfg.source_ip, snat_oif="net1")
    assert 'oifname "net1" snat to 192.168.3.10' in text and text.startswith("table ip egress_cni\n")
    assert prerouting(["80 tcp 10.4.5.6", "10.1.2.3"]) == ['iifname "eth0" tcp dport 80 dnat to 10.4.5.6',
                                                           'iifname "eth0" dnat to 10.1.2.3']
    assert (cfg.address, cfg.gateway, cfg.mode, cfg.master, cfg.mtu) == ("192.168.3.10/24", "192.168.3.1", "bridge",
                                                                         None, None)
    assert prerouting([]) == []  # no destinations: only the SNAT, as upstream


DEST_ERRORS = [
    (["80 icmp 1.2.3.4"], "Invalid destination [80 icmp 1.2.3.4]: Incorrect protocol number provided icmp"),
    (["99999 tcp 1.2.3.4"], "Invalid destination [99999 tcp 1.2.3.4]: Incorrect port number provided 99999: "
                            "Port number out of range 99999"),
    (["80 tcp"], "Invalid destination [80 tcp]: Invalid destination provided 80 tcp"),
    (["80 tcp 1.2.3.4", "http tcp 1.2.3.4"], 'Invalid destination [80 tcp 1.2.3.4 http tcp 1.2.3.4]: Incorrect port '
                                             'number provided http: strconv.Atoi: parsing "http": invalid syntax'),
    (["80  tcp 1.2.3.4"], "Invalid destination [80  tcp 1.2.3.4]: Incorrect protocol number provided "),
    # split on single spaces: 4 fields, the protocol is the empty 2nd one
    (["80 tcp 1.2.3.4 -1"], "Invalid destination [80 tcp 1.2.3.4 -1]: Incorrect port number provided -1: "
                            "Port number out of range -1"),
    (["80 tcp 10.100.3.0/30"], "Invalid destination [80 tcp 10.100.3.0/30]: Invalid IP address provided "
                               "10.100.3.0/30: not an IPv4 address"),
]


@pytest.mark.parametrize(("destinations", "message"), DEST_ERRORS)
def test_destination_errors(destinations: list[str], message: str) -> None:
    with pytest.raises(EgressConfigError) as err:
        parse_netconf(conf(destinations))
    assert err.value.message == message


CONF_ERRORS = [
    ({"type": "macvlan"}, "type: must be \"egress-router\", got 'macvlan'"),
    ({"interfaceType": "ipvlan"}, "interfaceType 'ipvlan' is not supported: osdn's egress-router plugin creates "
                                  "macvlan interfaces"),
    ({"interfaceArgs": {"mode": "l2"}}, 'unknown macvlan mode: "l2"'),
    ({"interfaceArgs": {"mtu": 1500}}, "interfaceArgs: must be an object of strings, got {'mtu': 1500}"),
    ({"interfaceArgs": {"mtu": "9x"}}, "interfaceArgs.mtu: '9x' is not an MTU (68 to 65535)"),
    ({"ip": None}, "ip: required object with addresses, gateway and destinations"),
    ({"ip": {"addresses": [], "gateway": "192.168.3.1"}},
     "ip.addresses: must be a non-empty list of CIDR strings, got []"),
    ({"ip": {"addresses": ["192.168.3.10"], "gateway": "192.168.3.1"}},
     'unable to parse IP address "192.168.3.10": invalid CIDR address: 192.168.3.10'),
    ({"ip": {"addresses": ["fd00::10/64"], "gateway": "fd00::1"}},
     'ip.addresses[0] "fd00::10/64": IPv6 is not supported by osdn\'s egress router'),
    ({"ip": {"addresses": ["192.168.3.10/24"], "gateway": "gw"}}, "ip.gateway: 'gw' is not an IPv4 address"),
    ({"ip": {"addresses": ["192.168.3.10/24"], "gateway": "192.168.3.1", "destinations": "80 tcp 1.2.3.4"}},
     "ip.destinations: must be a list of strings, got '80 tcp 1.2.3.4'"),
    ({"ipConfig": {"namespace": "x", "name": "y"}}, "ipConfig (addresses from a ConfigMap) is not supported by "
     "osdn's egress-router plugin: give ip.addresses, ip.gateway and ip.destinations in the config"),
]


@pytest.mark.parametrize(("over", "message"), CONF_ERRORS)
def test_config_errors(over: dict[str, Any], message: str) -> None:
    with pytest.raises(EgressConfigError) as err:
        parse_netconf(conf(**over))
    assert err.value.message == message


def test_interface_args() -> None:
    cfg = parse_netconf(conf(interfaceArgs={"master": "eth1", "mode": "private", "mtu": "1400"}))
    assert (cfg.master, cfg.mode, cfg.mtu) == ("eth1", "private", 1400)


def test_plugin_refuses_a_bad_config_before_touching_anything() -> None:
    env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/nonexistent/netns", "CNI_IFNAME": "net1"}
    code, out = cni.run(env, json.dumps(conf(["80 icmp 1.2.3.4"])))
    assert code == 7 and out == {"cniVersion": "0.4.0", "code": 7, "msg": "invalid egress-router network config",
                                 "details": "Invalid destination [80 icmp 1.2.3.4]: Incorrect protocol number "
                                            "provided icmp"}
    assert cni.run({"CNI_COMMAND": "VERSION"}, "")[1] == {"cniVersion": "1.0.0",
                                                         "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]}
    code, out = cni.run({**env, "CNI_COMMAND": "DEL"}, json.dumps(conf()))
    assert (code, out) == (0, None)  # the namespace is gone: nothing to do
