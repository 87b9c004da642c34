"""A loopback TCP port standing in for an egress node's health endpoint: open = node up."""

from __future__ import annotations

import socket
import threading


class FakeNode:
    """Listens on 127.0.0.1:<port> and accepts (then closes) every connection while `up`."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.up()

    def up(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        self._sock = sock
        self._thread = threading.Thread(target=self._accept, args=(sock,), daemon=True)
        self._thread.start()

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.close()

    def down(self) -> None:
        """Stop answering: the port is closed, so connects are refused (offline with refusedIsOnline: false)."""
        if self._sock is not None:
            self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"
