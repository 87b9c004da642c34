"""NodePort Services from the command line against a real server started with
`--service-node-port-range`: `osdn expose --type=NodePort [--node-port]`, `kubectl create service
nodeport`, the PORT(S) column (`80:30080/TCP`, also in kubectl's server-side table), `describe svc`
with its NodePort and External Traffic Policy lines, and kube's refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import ServerProc, start_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("npcli"), "--service-node-port-range", "31000-31099")
    try:
        s.cli("new-project", "shop", check=True)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
               "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 8080}]}]}}
        s.cli("create", "-n", "shop", "-f", "-", input=json.dumps(pod), check=True)
        yield s
    finally:
        s.stop()


def row(srv: ServerProc, name: str) -> list[str]:
    return srv.cli("get", "svc", name, "-n", "shop", "--no-headers", check=True).stdout.split()


def test_expose_with_a_node_port_and_see_it_in_get_and_describe(srv: ServerProc) -> None:
    srv.cli("expose", "pod", "web", "-n", "shop", "--port", "80", "--target-port", "8080", "--type", "NodePort",
            "--node-port", "31080", check=True)
    got = row(srv, "web")
    assert got[1] == "NodePort" and got[4] == "80:31080/TCP", got
    text = srv.cli("describe", "svc", "web", "-n", "shop", check=True).stdout
    for want in ("Type:                     NodePort", "Port:                     <unset>  80/TCP",
                 "TargetPort:               8080/TCP", "NodePort:                 <unset>  31080/TCP",
                 "Session Affinity:         None", "External Traffic Policy:  Cluster"):
        assert want in text, text
    table = srv.kubectl("get", "svc", "web", "-n", "shop", "--no-headers", check=True).stdout.split()
    assert table[4] == "80:31080/TCP", table   # the server's Table, as kubectl prints it


def test_an_allocated_port_is_in_the_servers_range_and_refusals_are_kubes(srv: ServerProc) -> None:
    srv.cli("expose", "pod", "web", "-n", "shop", "--port", "81", "--name", "auto", "--type", "NodePort", check=True)
    port, node_port = row(srv, "auto")[4].removesuffix("/TCP").split(":")
    assert port == "81" and 31000 <= int(node_port) <= 31099
    taken = srv.cli("expose", "pod", "web", "-n", "shop", "--port", "82", "--name", "dup", "--type", "NodePort",
                    "--node-port", "31080")
    assert taken.returncode != 0 and ('spec.ports[0].nodePort: Invalid value: 31080: provided port is already '
                                      'allocated') in taken.stderr, taken.stderr
    outside = srv.cli("expose", "pod", "web", "-n", "shop", "--port", "82", "--name", "out", "--type", "NodePort",
                      "--node-port", "30080")
    assert outside.returncode != 0 and ("provided port is not in the valid range. The range of valid ports is "
                                        "31000-31099") in outside.stderr, outside.stderr
    clusterip = srv.cli("expose", "pod", "web", "-n", "shop", "--port", "82", "--name", "c", "--node-port", "31081")
    assert clusterip.returncode != 0 and "--node-port needs --type=NodePort" in clusterip.stderr


def test_kubectl_create_service_nodeport_and_back_to_clusterip(srv: ServerProc) -> None:
    srv.kubectl("create", "service", "nodeport", "kn", "-n", "shop", "--tcp=80:8080", "--node-port=31090", check=True)
    assert row(srv, "kn")[4] == "80:31090/TCP"
    srv.kubectl("patch", "svc", "kn", "-n", "shop", "-p", '{"spec":{"type":"ClusterIP"}}', check=True)
    assert row(srv, "kn")[1] == "ClusterIP" and row(srv, "kn")[4] == "80/TCP"   # released, as kube
    srv.kubectl("create", "service", "nodeport", "kn2", "-n", "shop", "--tcp=80:8080", "--node-port=31090", check=True)


def test_a_loadbalancer_gets_node_ports_and_stays_pending_as_kubectl_shows_it(srv: ServerProc) -> None:
    srv.kubectl("create", "service", "loadbalancer", "lb", "-n", "shop", "--tcp=80:8080", check=True)
    got = row(srv, "lb")
    assert got[1] == "LoadBalancer" and got[3] == "<pending>" and got[4].startswith("80:31"), got
    srv.kubectl("create", "service", "externalname", "ext", "-n", "shop", "--external-name", "db.example.com",
                check=True)
    assert row(srv, "ext")[1:4] == ["ExternalName", "<none>", "db.example.com"]
