"""Online `osdn adm trace` to a service shows the DNAT the kernel took, next to the model's endpoints.

A 2-node networkpolicy lab: a client on node1, web pods on node1 and node2 behind one Service. The
trace probes the ClusterIP for real and reads the attempt's conntrack entry on node1 (where the
client's traffic is DNATed): the endpoint must be one of the model's, and once one pod has left the
selector (and node1 has synced: the service answers only from the other pod), the only one left. A
service without endpoints shows no DNAT (the node rejects it before conntrack commits the flow), and
the EndpointSlices of the services hold the same endpoints as the model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from labkit import Lab, make_lab, needs_agent
from polling import wait_for

pytestmark = [pytest.mark.e2e, needs_agent]
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("dnat", "networkpolicy", 2)


@pytest.fixture(scope="module")
def pods(lab: Lab) -> dict[str, tuple[str, str]]:
    spots = {"web1": ("node1", {"app": "web"}), "web2": ("node2", {"app": "web"}), "c1": ("node1", {"role": "c"})}
    return {name: lab.pod(name, "shop", node, labels) for name, (node, labels) in spots.items()}


def service(lab: Lab, name: str, selector: dict[str, str]) -> str:
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": 80}]}}
    return str(lab.client.create(body, "shop")["spec"]["clusterIP"])


def trace(lab: Lab, dst: str) -> Obj:
    done = lab.cli("adm", "trace", "--from", "shop/c1", "--to", dst, "--port", "80", "--probe-timeout", "3",
                   "-o", "json")
    return dict(json.loads(done.stdout))


def answered_by(lab: Lab, src_netns: str, vip: str) -> str:
    body = lab.get(src_netns, vip)
    return body.split(" on port ")[0] if " on port " in body else ""


def slice_addresses(lab: Lab, name: str) -> set[str]:
    items = lab.client.list("EndpointSlice", "shop", label_selector=f"kubernetes.io/service-name={name}")["items"]
    return {a for s in items for e in s.get("endpoints") or [] for a in e["addresses"]
            if (e.get("conditions") or {}).get("ready")}


def test_trace_shows_the_endpoint_the_kernel_chose(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    vip = service(lab, "web", {"app": "web"})
    c1_netns = pods["c1"][1]
    wait_for(lambda: answered_by(lab, c1_netns, vip), timeout=60, what="service up on node1")
    web_ips = {pods["web1"][0], pods["web2"][0]}
    wait_for(lambda: slice_addresses(lab, "web") == web_ips, timeout=60, what="EndpointSlice with both pods")
    doc = trace(lab, "shop/web")
    kernel, dnat = doc["kernel"], doc["kernel"]["dnat"]
    assert doc["allowed"] is True and kernel["outcome"] == "connected" and kernel["agrees"] is True, kernel
    assert dnat["read"] is True and dnat["node"] == "node1" and dnat["service"] == f"{vip}:80", dnat
    assert dnat["inModel"] is True and dnat["endpoint"] in {f"{ip}:80" for ip in web_ips}, dnat
    assert sorted(dnat["modelEndpoints"]) == sorted(f"{ip}:80" for ip in web_ips)
    text = lab.cli("adm", "trace", "--from", "shop/c1", "--to", "shop/web", "--probe-timeout", "3").stdout
    assert f"DNAT on node1 (conntrack): {vip}:80 -> " in text and "one of the model's 2 endpoint(s)" in text, text


def test_after_a_pod_leaves_the_selector_the_dnat_goes_to_the_other(lab: Lab,
                                                                     pods: dict[str, tuple[str, str]]) -> None:
    vip = service(lab, "pool", {"pool": "yes"})
    for name in ("web1", "web2"):
        lab.client.patch("Pod", name, {"metadata": {"labels": {"pool": "yes"}}}, "shop")
    c1_netns = pods["c1"][1]
    wait_for(lambda: slice_addresses(lab, "pool") == {pods["web1"][0], pods["web2"][0]}, timeout=60, what="both in the slice")
    lab.client.patch("Pod", "web1", {"metadata": {"labels": {"pool": "no"}}}, "shop")
    wait_for(lambda: slice_addresses(lab, "pool") == {pods["web2"][0]}, timeout=60, what="web1 leaves the slice")
    # node1 has synced once the service answers only from web2, ten times in a row
    wait_for(lambda: all(answered_by(lab, c1_netns, vip) == "shop/web2" for _ in range(10)), timeout=60, what="node1 sync")
    for _ in range(3):
        dnat = trace(lab, "shop/pool")["kernel"]["dnat"]
        assert dnat["endpoint"] == f"{pods['web2'][0]}:80" and dnat["inModel"] is True, dnat
        assert dnat["modelEndpoints"] == [f"{pods['web2'][0]}:80"]


def test_a_service_without_endpoints_has_no_dnat(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    service(lab, "empty", {"app": "nobody"})
    wait_for(lambda: lab.client.list("EndpointSlice", "shop",
                                     label_selector="kubernetes.io/service-name=empty")["items"], timeout=60, what="placeholder")
    doc = wait_for(lambda: (d := trace(lab, "shop/empty"))["kernel"]["outcome"] == "refused" and d,
                   timeout=60, what="node1 rejects the service without endpoints")
    assert doc["kernel"]["dnat"]["read"] is True and doc["kernel"]["dnat"]["endpoint"] is None, doc["kernel"]
    assert doc["allowed"] is False and doc["kernel"]["agrees"] is True   # refused, as the model expects
