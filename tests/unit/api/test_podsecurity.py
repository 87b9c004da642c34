"""The SCC rules of osdn.api.podsecurity: which fields of a pod spec need more than `restricted`,
the least SCC allowing each, and what a set of usable SCCs still refuses."""

from __future__ import annotations

from typing import Any

import pytest

from osdn.api import podsecurity as ps


def c(**kw: Any) -> dict[str, Any]:
    return {"name": "c", "image": "i", **kw}


@pytest.mark.parametrize(("spec", "expected"), [
    ({"containers": [c()]}, []),
    ({"hostNetwork": True, "containers": [c()]},
     [("spec.securityContext.hostNetwork", "hostnetwork", "Host network is not allowed to be used")]),
    ({"hostNetwork": False, "hostPID": False, "containers": [c()]}, []),
    ({"hostPID": True, "hostIPC": True},
     [("spec.securityContext.hostPID", "hostaccess", "Host PID is not allowed to be used"),
      ("spec.securityContext.hostIPC", "hostaccess", "Host IPC is not allowed to be used")]),
    ({"volumes": [{"name": "v", "emptyDir": {}}, {"name": "h", "hostPath": {"path": "/"}}]},
     [("spec.volumes[1]", "hostaccess", "hostPath volumes are not allowed to be used")]),
    ({"initContainers": [c(securityContext={"privileged": True})], "containers": [c()]},
     [("spec.initContainers[0].securityContext.privileged", "privileged", "Privileged containers are not allowed")]),
    ({"containers": [c(securityContext={"privileged": False, "capabilities": {"add": ["NET_BIND_SERVICE",
                                                                                      "CAP_NET_ADMIN"]}})]},
     [("spec.containers[0].securityContext.capabilities.add", "privileged", "capability may not be added")]),
    ({"containers": [c(ports=[{"containerPort": 80}, {"containerPort": 53, "hostPort": 53}])]},
     [("spec.containers[0].ports[1].hostPort", "hostnetwork", "Host ports are not allowed to be used")]),
    ({"containers": "nonsense", "volumes": {"x": 1}, "hostNetwork": "true"}, []),   # malformed: validation's job
    (None, []),
], ids=["plain", "host-network", "false-is-fine", "pid-ipc", "host-path", "privileged-init", "capability",
        "host-port", "malformed", "no-spec"])
def test_host_access_names_each_field_and_its_least_scc(spec: Any, expected: list[tuple[str, str, str]]) -> None:
    assert [(n.field, n.scc, n.message) for n in ps.host_access(spec)] == expected


def test_template_paths_and_messages() -> None:
    needs = ps.host_access({"hostNetwork": True, "containers": [c(securityContext={"privileged": True})]},
                           "spec.template.spec")
    assert [str(n) for n in needs] == [
        "spec.template.spec.securityContext.hostNetwork: Invalid value: true: Host network is not allowed to be used",
        "spec.template.spec.containers[0].securityContext.privileged: Invalid value: true: Privileged containers "
        "are not allowed"]
    assert ps.least_scc(needs) == "privileged" and ps.least_scc([]) == "restricted"


def test_an_scc_allows_what_those_below_it_allow() -> None:
    needs = ps.host_access({"hostNetwork": True, "hostPID": True, "containers": [c(securityContext={"privileged": True})]})
    assert [n.scc for n in ps.refusals(needs, set())] == ["hostnetwork", "hostaccess", "privileged"]
    assert [n.scc for n in ps.refusals(needs, {"hostnetwork"})] == ["hostaccess", "privileged"]
    assert [n.scc for n in ps.refusals(needs, {"hostaccess"})] == ["privileged"]
    assert ps.refusals(needs, {"privileged"}) == []
    assert [n.scc for n in ps.refusals(needs, {"unknown"})] == ["hostnetwork", "hostaccess", "privileged"]
