"""A CNI socket client that never finishes its request, against the agent's CNI server (which serves
one request at a time): it gets a deadline for the whole request, so other ADDs go on. Before, the
30 s timeout was per read and a client trickling a byte every 0.2 s held the server for ever."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from osdn.api import cni as proto
from osdn.cni.plugin import post_json
from osdn.node import cniserver
from osdn.node.cniserver import CniServer

VERSION = {"env": {"CNI_COMMAND": "VERSION"}, "config": {"cniVersion": "1.0.0"}}


def trickle(path: str, stop: threading.Event, started: threading.Event, head: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        s.sendall(head)
        started.set()
        while not stop.wait(0.2):
            try:
                s.sendall(b"x")
            except OSError:  # the server gave up on us
                return


@pytest.mark.parametrize("head", [b"POST /cni HTTP/1.1\r\nX-Slow: ",
                                  b"POST /cni HTTP/1.1\r\nContent-Length: 100000\r\n\r\n{"],
                         ids=["header", "body"])
def test_a_trickling_client_does_not_hold_the_other_requests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             head: bytes) -> None:
    monkeypatch.setattr(cniserver._RequestHandler, "request_deadline", 1.0)
    seen: list[proto.CniRequest] = []

    def handle(req: proto.CniRequest) -> dict[str, Any]:
        seen.append(req)
        return {}

    path = str(tmp_path / "cni.sock")
    server = CniServer(path, handle).start()
    stop, started = threading.Event(), threading.Event()
    slow = threading.Thread(target=trickle, args=(path, stop, started, head), daemon=True)
    slow.start()
    try:
        assert started.wait(20)
        status, answer = post_json(path, "/cni", VERSION, timeout=20)  # waits behind the slow one
        assert status == 200 and answer["supportedVersions"]
    finally:
        stop.set()
        slow.join(timeout=20)
        server.stop()


def test_a_client_that_leaves_before_its_answer_is_no_traceback(tmp_path: Path, capfd: pytest.CaptureFixture[str]
                                                               ) -> None:
    """A readiness probe that gives up before the answer (the agent still starting): the server's
    write fails with a broken pipe, which is the client's doing; nothing on stderr, and the next
    request is served."""
    gone, asked = threading.Event(), threading.Event()

    def ready() -> bool:
        asked.set()
        return gone.wait(20)  # answer only once the client has closed its end

    path = str(tmp_path / "cni.sock")
    server = CniServer(path, lambda req: {}, ready=ready).start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(path)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert asked.wait(20)
        gone.set()
        status, answer = post_json(path, "/cni", VERSION, timeout=20)
        assert status == 200 and answer["supportedVersions"]
    finally:
        server.stop()
    assert "Traceback" not in capfd.readouterr().err
