"""The osdn-cni plugin without root or an agent: env/stdin parsing, error objects and exit codes,
version negotiation, result building, and forwarding to a fake agent on a unix socket."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from osdn.api import cni as proto
from osdn.cni import plugin
from osdn.node.cniserver import CniServer

ENV = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "abc123", "CNI_NETNS": "/run/netns/x", "CNI_IFNAME": "eth0",
       "CNI_PATH": "/usr/lib/cni", "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=p1"}


def conf(version: str = "1.0.0", **kw: Any) -> str:
    return json.dumps({"cniVersion": version, "name": "osdn", "type": "osdn-cni", **kw})


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0", "1.0.0"])
def test_version_answers_supported_versions_in_the_asked_version(version: str) -> None:
    code, out = plugin.run({"CNI_COMMAND": "VERSION"}, json.dumps({"cniVersion": version}))
    assert code == 0 and out == {"cniVersion": version, "supportedVersions": list(proto.SUPPORTED_VERSIONS)}


def test_version_without_stdin_and_with_an_unknown_version_still_answers() -> None:
    assert plugin.run({"CNI_COMMAND": "VERSION"}, "")[1]["supportedVersions"] == list(proto.SUPPORTED_VERSIONS)
    code, out = plugin.run({"CNI_COMMAND": "VERSION"}, json.dumps({"cniVersion": "9.9.9"}))
    assert code == 0 and "1.0.0" in out["supportedVersions"]


@pytest.mark.parametrize("env_change,stdin,code,msg", [
    ({"CNI_COMMAND": "BOGUS"}, conf(), 4, "invalid environment variables"),
    ({"CNI_CONTAINERID": ""}, conf(), 4, "invalid environment variables"),
    ({"CNI_NETNS": ""}, conf(), 4, "invalid environment variables"),
    ({"CNI_ARGS": "novalue"}, conf(), 4, "invalid CNI_ARGS"),
    ({}, "{not json", 6, "failed to decode network config"),
    ({}, "[1, 2]", 6, "failed to decode network config"),
    ({}, conf("2.0.0"), 1, "incompatible CNI versions"),
    ({}, json.dumps({"name": "osdn"}), 7, "invalid network config"),
    ({}, json.dumps({"cniVersion": "1.0.0"}), 7, "invalid network config"),
    ({}, conf(mtu="big"), 7, "invalid network config"),
    ({"CNI_COMMAND": "CHECK"}, conf("0.3.1"), 1, "incompatible CNI versions"),
], ids=["bad-command", "no-container", "no-netns", "bad-args", "bad-json", "not-object", "bad-version",
        "no-version", "no-name", "bad-mtu", "check-0.3.1"])
def test_bad_input_gives_error_object_and_exit_code(env_change: dict[str, str], stdin: str, code: int,
                                                     msg: str) -> None:
    got, out = plugin.run({**ENV, **env_change}, stdin)
    assert got == code and out is not None
    assert out["code"] == code and out["msg"] == msg and out["details"]
    assert out["cniVersion"] in proto.SUPPORTED_VERSIONS


def test_del_without_netns_is_valid() -> None:
    req = proto.request_from_env({**ENV, "CNI_COMMAND": "DEL", "CNI_NETNS": ""}, conf())
    assert req.command == "DEL" and req.args["K8S_POD_NAME"] == "p1"


def test_unreachable_agent_is_try_again(tmp_path: Path) -> None:
    code, out = plugin.run(ENV, conf(socket=str(tmp_path / "nothing.sock")))
    assert code == 11 and out is not None and out["code"] == 11 and "nothing.sock" in out["details"]


def test_main_prints_json_and_exits_with_the_code(tmp_path: Path) -> None:
    out = io.StringIO()
    with pytest.raises(SystemExit) as exc:
        plugin.main(ENV, io.StringIO(conf(socket=str(tmp_path / "x.sock"))), out)
    assert exc.value.code == 11 and json.loads(out.getvalue())["code"] == 11


ATT = proto.Attachment("osdnpabc", "aa:bb:cc:dd:ee:ff", "eth0", "0a:58:0a:80:00:02", "/run/netns/x",
                       "10.128.0.2/23", "10.128.0.1", (("0.0.0.0/0", "10.128.0.1"), ("224.0.0.0/4", None)))


@pytest.mark.parametrize("version,has_version_field", [("0.3.1", True), ("0.4.0", True), ("1.0.0", False)])
def test_add_result_format_per_version(version: str, has_version_field: bool) -> None:
    res = proto.add_result(version, ATT)
    assert res["cniVersion"] == version
    assert ("version" in res["ips"][0]) is has_version_field
    assert res["ips"][0]["interface"] == 1 and res["interfaces"][1]["sandbox"] == "/run/netns/x"
    assert res["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.128.0.1"}, {"dst": "224.0.0.0/4"}]


def test_add_result_extends_a_previous_result() -> None:
    prev = {"cniVersion": "1.0.0", "interfaces": [{"name": "lo0"}], "ips": [{"address": "192.0.2.5/24", "interface": 0}],
            "routes": [{"dst": "192.0.2.0/24"}], "dns": {"nameservers": ["192.0.2.53"]}}
    res = proto.add_result("1.0.0", ATT, prev)
    assert [i["name"] for i in res["interfaces"]] == ["lo0", "osdnpabc", "eth0"]
    assert res["ips"][0] == prev["ips"][0] and res["ips"][1]["interface"] == 2
    assert res["routes"][0] == {"dst": "192.0.2.0/24"} and res["dns"] == prev["dns"]


# -- against a fake agent on a real unix socket ------------------------------------------------------

@pytest.fixture
def agent(tmp_path: Path) -> Iterator[tuple[str, list[proto.CniRequest]]]:
    seen: list[proto.CniRequest] = []

    def handle(req: proto.CniRequest) -> dict[str, Any]:
        seen.append(req)
        if req.container_id == "fail":
            raise proto.CniError(proto.INTERNAL, "no luck", "details here")
        if req.command == "ADD":
            return proto.add_result(req.version, ATT, req.config.get("prevResult"))
        return {}

    sock = str(tmp_path / "run" / "cni.sock")
    server = CniServer(sock, handle).start()
    try:
        yield sock, seen
    finally:
        server.stop()
    assert not Path(sock).exists()


@pytest.mark.parametrize("version", ["0.4.0", "1.0.0"])
def test_add_forwards_env_and_config_and_prints_the_result(agent: tuple[str, list[proto.CniRequest]],
                                                           version: str) -> None:
    sock, seen = agent
    code, out = plugin.run(ENV, conf(version, socket=sock))
    assert code == 0 and out is not None and out["cniVersion"] == version
    assert seen[0].container_id == "abc123" and seen[0].args["K8S_POD_NAMESPACE"] == "ns1"
    assert seen[0].config["socket"] == sock


def test_del_and_check_print_nothing(agent: tuple[str, list[proto.CniRequest]]) -> None:
    sock, _ = agent
    assert plugin.run({**ENV, "CNI_COMMAND": "DEL"}, conf(socket=sock)) == (0, None)
    assert plugin.run({**ENV, "CNI_COMMAND": "CHECK"}, conf(socket=sock)) == (0, None)


def test_agent_error_comes_back_as_cni_error(agent: tuple[str, list[proto.CniRequest]]) -> None:
    sock, _ = agent
    code, out = plugin.run({**ENV, "CNI_CONTAINERID": "fail"}, conf("0.4.0", socket=sock))
    assert code == proto.INTERNAL
    assert out == {"cniVersion": "0.4.0", "code": proto.INTERNAL, "msg": "no luck", "details": "details here"}


def test_server_answers_concurrent_clients(agent: tuple[str, list[proto.CniRequest]]) -> None:
    sock, seen = agent
    results: list[int] = []
    threads = [threading.Thread(target=lambda i=i: results.append(
        plugin.run({**ENV, "CNI_CONTAINERID": f"c{i}"}, conf(socket=sock))[0])) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [0] * 8 and sorted(r.container_id for r in seen) == [f"c{i}" for i in range(8)]


def test_server_refuses_to_replace_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "cni.sock"
    path.write_text("not a socket")
    with pytest.raises(Exception, match="not a socket"):
        CniServer(str(path), lambda req: {})
