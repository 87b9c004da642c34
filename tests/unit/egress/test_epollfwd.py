"""epollfwd.Listener: accepting resumes after it failed for want of descriptors (no new edge comes)."""

from __future__ import annotations

import _socket
import errno
import socket
import threading
from collections.abc import Callable

from osdn.egress.epollfwd import ACCEPT, Listener, Loop, listen


class Starved(_socket.socket):
    """A listening socket whose first accept fails as with too many open files."""

    failures = 1

    def _accept(self) -> tuple[int, tuple[str, int]]:
        if self.failures:
            self.failures -= 1
            raise OSError(errno.EMFILE, "Too many open files")
        accept: Callable[[], tuple[int, tuple[str, int]]] = getattr(super(), ACCEPT)  # typeshed omits it
        return accept()


def test_accept_resumes_after_emfile() -> None:
    real = listen("127.0.0.1", 0)
    sock = Starved(socket.AF_INET, socket.SOCK_STREAM, 0, real.detach())
    accepted = threading.Event()
    loop = Loop()

    def on_accept(conn: _socket.socket, peer: tuple[str, int]) -> None:
        conn.close()
        accepted.set()

    Listener(loop, sock, on_accept)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    client = socket.create_connection(sock.getsockname(), timeout=20)
    try:
        assert accepted.wait(20)  # the one connection, after the pause, without a second edge
        assert sock.failures == 0
    finally:
        client.close()
        loop.stop()
        thread.join(20)
        loop.close()
