"""epollfwd.Listener: accepting resumes after it failed for want of descriptors (no new edge comes)."""

from __future__ import annotations

import _socket
import errno
import gc
import socket
import threading
from collections.abc import Callable

from osdn.egress.epollfwd import ACCEPT, Listener, Loop, Pair, Side, listen


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


def test_a_closed_pair_leaves_no_cycle_for_the_collector() -> None:
    """Forwarded connections are freed by reference counting as they close (the cyclic collector
    would walk them otherwise: its runs showed in the profile of short connections)."""
    gc.collect()
    gc.disable()  # what the pair leaves stays until the check
    srv = socket.create_server(("127.0.0.1", 0))
    cli, proxied = socket.socketpair()
    loop, done = Loop(), threading.Event()
    thread = threading.Thread(target=loop.run, daemon=True)
    try:
        pair = Pair(loop, proxied, ("client", 0), 20, 20, lambda _p: done.set())
        pair.connect(("127.0.0.1",), srv.getsockname()[1], 1)
        thread.start()
        srv.settimeout(20)
        up, _ = srv.accept()
        cli.settimeout(20)
        up.settimeout(20)
        cli.sendall(b"hi")
        assert up.recv(10) == b"hi"
        up.sendall(b"ho")
        up.close()  # EOF one way, then the other: the pair closes
        assert cli.recv(10) == b"ho" and cli.recv(10) == b""
        cli.close()
        assert done.wait(20)
        del pair
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            left = [o for o in gc.garbage if isinstance(o, Pair | Side)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        assert not left
    finally:
        gc.enable()
        loop.stop()
        thread.join(20)
        loop.close()
        srv.close()
        cli.close()
