"""Network (operator.openshift.io/v1) and ClusterOperator: validation, the bootstrap mirror, durations."""

from __future__ import annotations

import copy

import pytest

from osdn.api.duration import format_duration, parse_duration
from osdn.api.kinds.operator import network_from_cluster_network, proxy_periods, validate_network
from osdn.apiserver.bootstrap import default_cluster_network


def network(**kube_proxy: object) -> dict:
    obj = network_from_cluster_network(default_cluster_network("redhat/openshift-ovs-multitenant", "10.128.0.0/14",
                                                               9, "172.30.0.0/16"))
    obj["spec"]["kubeProxyConfig"] = kube_proxy
    return obj


def messages(obj: dict, old: dict | None = None) -> list[str]:
    return [f"{e.field}: {e.message}" for e in validate_network(obj, old)]


def test_bootstrap_mirror_matches_the_cluster_network() -> None:
    spec = network()["spec"]
    assert spec["clusterNetwork"] == [{"cidr": "10.128.0.0/14", "hostPrefix": 23}]
    assert spec["serviceNetwork"] == ["172.30.0.0/16"]
    assert spec["defaultNetwork"] == {"type": "OpenShiftSDN", "openshiftSDNConfig": {
        "mode": "Multitenant", "vxlanPort": 4789, "mtu": 1450}}
    assert messages(network()) == []


def test_kube_proxy_periods_parse_and_validate() -> None:
    good = network(iptablesSyncPeriod="1m", proxyArguments={"iptables-min-sync-period": ["500ms"]})
    assert messages(good) == [] and proxy_periods(good) == (60.0, 0.5)
    assert proxy_periods(network()) == (None, None)
    assert messages(network(iptablesSyncPeriod="soon")) == [
        'spec.kubeProxyConfig.iptablesSyncPeriod: Invalid value: "soon": must be a positive duration such as '
        "30s, 2m or 1h"]
    assert messages(network(iptablesSyncPeriod="0s")) != []
    assert messages(network(proxyArguments={"iptables-min-sync-period": ["1s", "2s"]})) == [
        'spec.kubeProxyConfig.proxyArguments[iptables-min-sync-period]: Invalid value: ["1s", "2s"]: '
        "must hold exactly one value"]
    assert "Unsupported value" in messages(network(proxyArguments={"masquerade-bit": ["14"]}))[0]
    assert "must not be longer than iptablesSyncPeriod" in messages(network(
        iptablesSyncPeriod="10s", proxyArguments={"iptables-min-sync-period": ["1m"]}))[0]
    assert messages(network(bindAddress="0.0.0.0")) == []
    assert "valid IP" in messages(network(bindAddress="everywhere"))[0]


def test_network_fields_are_fixed_but_kube_proxy_config_may_change() -> None:
    old = network()
    new = copy.deepcopy(old)
    new["spec"]["kubeProxyConfig"] = {"iptablesSyncPeriod": "2m"}
    assert messages(new, old) == []
    new["spec"]["clusterNetwork"][0]["cidr"] = "10.0.0.0/14"
    new["spec"]["defaultNetwork"]["openshiftSDNConfig"]["mode"] = "Subnet"
    assert [m.split(":")[0] for m in messages(new, old)] == ["spec.clusterNetwork", "spec.defaultNetwork"]
    assert "cannot be changed on a running cluster" in messages(new, old)[0]


def test_name_type_and_mode() -> None:
    obj = network()
    obj["metadata"]["name"] = "other"
    obj["spec"]["defaultNetwork"] = {"type": "OVNKubernetes", "openshiftSDNConfig": {"mode": "Flat"}}
    assert [m.split(":")[0] for m in messages(obj)] == [
        "metadata.name", "spec.defaultNetwork.type", "spec.defaultNetwork.openshiftSDNConfig.mode"]


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30.0), ("1m30s", 90.0), ("500ms", 0.5), ("2h", 7200.0),
                                               ("0s", 0.0), ("0", 0.0), ("1.5s", 1.5)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "s", "1x", "-1s", "1 s", True, None, [1]])
def test_bad_durations(text: object) -> None:
    assert parse_duration(text) is None


def test_bare_seconds_and_formatting() -> None:
    assert parse_duration(30, bare_seconds=True) == 30.0 and parse_duration("2.5", bare_seconds=True) == 2.5
    assert [format_duration(s) for s in (0.5, 1, 30, 90, 3600, 3661)] == ["500ms", "1s", "30s", "1m30s", "1h",
                                                                          "1h1m1s"]
