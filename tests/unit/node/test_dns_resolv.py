"""Pods' DNS settings: the CNI ADD result's `dns` section (cluster DNS VIP, kube's search path,
ndots:5) and the resolv.conf the lab kubelet writes from it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from osdn.api.cni import Attachment, add_result, pod_dns
from osdn.lab.runtime import resolv_conf_from_cni
from osdn.model.servicenet import dns_service_ip

ATT = Attachment("osdnpabc", "aa:bb:cc:dd:ee:ff", "eth0", "0a:58:0a:80:00:02", "/run/netns/x", "10.128.0.2/23",
                 "10.128.0.1", (("0.0.0.0/0", "10.128.0.1"),), pod_dns("shop", dns_service_ip("172.30.0.0/16")))


@pytest.mark.parametrize("version", ["0.4.0", "1.0.0"])
def test_add_result_carries_the_cluster_dns(version: str) -> None:
    assert add_result(version, ATT)["dns"] == {
        "nameservers": ["172.30.0.10"],
        "search": ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"],
        "options": ["ndots:5"]}


def test_a_chained_plugin_keeps_its_own_dns_when_osdn_names_none() -> None:
    prev = {"cniVersion": "1.0.0", "dns": {"nameservers": ["192.0.2.53"]}}
    assert add_result("1.0.0", replace(ATT, dns=None), prev)["dns"] == {"nameservers": ["192.0.2.53"]}


def test_resolv_conf_from_the_cni_result() -> None:
    text = resolv_conf_from_cni(add_result("1.0.0", ATT)["dns"])
    assert text is not None
    assert text.splitlines()[1:] == ["search shop.svc.cluster.local svc.cluster.local cluster.local",
                                     "nameserver 172.30.0.10", "options ndots:5"]
    assert resolv_conf_from_cni({}) is None  # no nameserver: the kubelet falls back to the lab's DNS
