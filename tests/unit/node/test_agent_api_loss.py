"""What the node agent's CNI side and start-up do without an API server (no kernel needed): before
its first sync every request is "try again later" and /healthz is 503; after it, while the API
server is unreachable, ADD and DEL are "try again later" and CHECK is served; start-up calls are
retried with backoff, except refusals that a retry cannot cure."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from osdn.api.cni import TRY_AGAIN, request_from_env
from osdn.client import ClientConfig
from osdn.cni import plugin
from osdn.errors import ForbiddenError, OsdnError
from osdn.lab.restart import cni_healthy
from osdn.node.agent import Agent, AgentConfig, AgentError
from osdn.node.cniserver import CniServer

SERVER = "https://127.0.0.1:9"
ENV = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "abc123", "CNI_NETNS": "/run/netns/x", "CNI_IFNAME": "eth0",
       "CNI_PATH": "/usr/lib/cni", "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=blue;K8S_POD_NAME=web"}


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[tuple[Agent, str]]:
    sock = str(tmp_path / "run" / "cni.sock")
    cfg = AgentConfig("node1", "osdn-nonexistent", "192.0.2.1", ClientConfig(server=SERVER, token="t"),
                      cni_socket=sock)
    a = Agent(cfg)
    server = CniServer(sock, a.handle_cni, a.synced.is_set).start()
    try:
        yield a, sock
    finally:
        server.stop()
        a.client.close()


def conf(sock: str) -> str:
    return json.dumps({"cniVersion": "1.0.0", "name": "osdn", "type": "osdn-cni", "socket": sock})


def test_before_the_first_sync_every_request_is_try_again_and_healthz_is_503(agent: tuple[Agent, str]) -> None:
    a, sock = agent
    a.api_error = f"cannot reach the osdn server at {SERVER}: [Errno 111] Connection refused"
    for command in ("ADD", "DEL", "CHECK"):
        code, out = plugin.run({**ENV, "CNI_COMMAND": command}, conf(sock))
        assert code == TRY_AGAIN and out is not None, (command, out)
        assert out["msg"] == "osdn node agent node1 has not synced with the API server yet; try again later"
        assert out["details"] == f"{command} of pod blue/web: API server {SERVER}: {a.api_error}"
    assert not cni_healthy(sock), "/healthz must not say ready before the first sync"


def test_after_the_first_sync_add_and_del_wait_for_the_api_and_check_is_served(agent: tuple[Agent, str]) -> None:
    a, sock = agent
    a.synced.set()
    assert cni_healthy(sock)
    a._note_api(f"cannot reach the osdn server at {SERVER}: [Errno 111] Connection refused")
    for command in ("ADD", "DEL"):
        code, out = plugin.run({**ENV, "CNI_COMMAND": command}, conf(sock))
        assert code == TRY_AGAIN and out is not None
        assert out["msg"] == "osdn node agent node1 cannot reach the API server; try again later"
        assert out["details"].startswith(f"{command} of pod blue/web must publish its IP through the API server")
    assert a.cni_refusal(request_from_env({**ENV, "CNI_COMMAND": "CHECK"}, conf(sock))) is None
    a._note_api("")                              # the heartbeat got through again
    assert a.cni_refusal(request_from_env(ENV, conf(sock))) is None


def test_api_loss_and_return_are_logged_once(agent: tuple[Agent, str], caplog: pytest.LogCaptureFixture) -> None:
    a, _ = agent
    caplog.set_level(logging.INFO, logger="osdn.node.agent")
    for error in ("refused", "refused", "refused", "", ""):
        a._note_api(error)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["node node1: API server unreachable: keeping the last applied kernel state; CNI ADD and "
                        "DEL answer 'try again later' until it is back", "node node1: API server reachable again"]


def test_start_up_calls_wait_for_the_api_server(agent: tuple[Agent, str]) -> None:
    a, _ = agent
    assert {(i.backoff.cap, i.backoff.jitter) for i in a.informers.values()} == {(10.0, 1.0)}  # full jitter
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) < 2:
            raise OsdnError(f"cannot reach the osdn server at {SERVER}: [Errno 111] Connection refused")

    a._until_api("register the Node", flaky)
    assert len(calls) == 2


def test_start_up_raises_what_a_retry_cannot_cure_and_stops_on_request(agent: tuple[Agent, str]) -> None:
    a, _ = agent
    with pytest.raises(ForbiddenError):
        a._until_api("register the Node", lambda: (_ for _ in ()).throw(ForbiddenError("nodes is forbidden")))
    threading.Timer(0.2, a.stopping.set).start()
    with pytest.raises(AgentError, match="stopped while waiting to register the Node"):
        a._until_api("register the Node", lambda: (_ for _ in ()).throw(OsdnError("cannot reach")))
