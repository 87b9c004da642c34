"""The node agent's CNI server: HTTP/1.1 over a unix socket, one request at a time.

Side effects: binds the socket path (mode 0600 in a 0700 directory; a stale socket file left by a
dead agent is replaced, anything else at that path is an error) and runs the handler on one thread.

Protocol: `POST /cni` with `{"env": {CNI_* variables}, "config": {network config}}`. Answer 200 with
the CNI result (ADD), an empty object (DEL, CHECK) or the VERSION answer; any other status carries
a CNI error object `{"cniVersion", "code", "msg", "details"}`. `GET /healthz` answers 200 once the
agent says it is ready (its first sync is done), 503 before: the socket opens at start so that a
runtime gets a clear "not synced yet" error instead of a missing socket.
Requests are processed strictly serially (as openshift-sdn's CNI server): no two pods are set up
at the same time, so IPAM and the dataplane never see interleaved half-done pods. So a client gets
`request_deadline` (30 s) for its whole request, not per read: one that trickled a byte at a time
used to hold every other ADD and DEL of the node for as long as it liked.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import socketserver
import stat
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from osdn.api.cni import DECODE_FAILURE, INTERNAL, CniError, CniRequest, request_from_wire, version_result
from osdn.errors import OsdnError

log = logging.getLogger(__name__)
Handler = Callable[[CniRequest], dict[str, Any]]
MAX_BODY = 1 << 20


class _Server(socketserver.UnixStreamServer):
    handle_cni: Handler
    ready: Callable[[], bool]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that left before its answer was written (a readiness probe that timed out) is
        no error of ours: logged at debug, not a traceback on stderr; anything else is logged."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            log.debug("CNI client left before its answer: %s", exc)
        else:
            log.exception("CNI request failed")


class _TooSlow(Exception):
    """The client did not send its whole request before the deadline."""


class _DeadlineReader(io.RawIOBase):
    """A socket's bytes, each read bounded by what is left until `deadline` (monotonic seconds)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("request not complete in time")
        self.sock.settimeout(left)
        return self.sock.recv_into(buf)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds for each write of the answer
    request_deadline = 30.0  # seconds a client may take to send its whole request

    def setup(self) -> None:
        super().setup()
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, time.monotonic() + self.request_deadline))

    def address_string(self) -> str:  # AF_UNIX peers have no address
        return "unix"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("cni server: " + format, *args)

    def do_GET(self) -> None:
        if self.path != "/healthz":
            self._send(404, {"ok": False})
            return
        ready = self.server.ready()
        self._send(200 if ready else 503, {"ok": ready})

    def do_POST(self) -> None:
        if self.path != "/cni":
            self._send(404, CniError(INTERNAL, f"no such path {self.path}").to_obj("1.0.0"))
            return
        version = "1.0.0"
        try:
            body = self._body()
            version = str((body.get("config") or {}).get("cniVersion") or version)
            req = request_from_wire(body)
            self._send(200, dispatch(req, self.server.handle_cni))
        except _TooSlow:
            log.warning("CNI request not complete within %.0f s: connection closed", self.request_deadline)
            self.close_connection = True
        except CniError as err:
            log.warning("CNI request failed: %s (%s)", err.msg, err.details)
            self._send(500, err.to_obj(version))
        except OsdnError as err:
            log.warning("CNI request failed: %s", err.message)
            self._send(500, CniError(INTERNAL, err.message).to_obj(version))
        except Exception as err:  # the runtime gets an error object, never a dropped connection
            log.exception("CNI request crashed")
            self._send(500, CniError(INTERNAL, f"internal error: {err}").to_obj(version))

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BODY:
            raise CniError(DECODE_FAILURE, "bad request", f"Content-Length {length} out of range")
        try:
            raw = self.rfile.read(length)
        except TimeoutError:
            raise _TooSlow from None
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise CniError(DECODE_FAILURE, "bad request", f"body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise CniError(DECODE_FAILURE, "bad request", "body is not a JSON object")
        return body

    def _send(self, code: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.connection.settimeout(self.timeout)  # reads may have left it short
        self.close_connection = True  # one request per connection: a lingering client must not block the queue
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def dispatch(req: CniRequest, handle: Handler) -> dict[str, Any]:
    """VERSION is answered here; everything else goes to `handle`."""
    if req.command == "VERSION":
        return version_result(req.version)
    return handle(req) or {}


class CniServer:
    """Serve `handle` on unix socket `path` until `stop()`; `/healthz` reports `ready()`."""

    def __init__(self, path: str, handle: Handler, ready: Callable[[], bool] = lambda: True) -> None:
        self.path = Path(path)
        self._prepare_path()
        self.server = _Server(str(self.path), _RequestHandler)
        self.server.handle_cni = handle
        self.server.ready = ready
        os.chmod(self.path, 0o600)
        self._thread: threading.Thread | None = None

    def _prepare_path(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            mode = self.path.lstat().st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise OsdnError(f"CNI socket path {self.path} exists and is not a socket (from --cni-socket)")
        self.path.unlink()  # a stale socket of a previous agent

    def start(self) -> CniServer:
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="cni-server", daemon=True)
        self._thread.start()
        log.info("CNI server listening on %s", self.path)
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
