"""`osdn-cni`: the CNI plugin binary. Thin: parse, validate, forward to the node agent, print.

Side effects: one HTTP request over the agent's unix socket (`"socket"` in the network config,
default /run/osdn/cni.sock). It never touches a network namespace itself, so it behaves the same
whatever namespace the runtime runs it in.

Exit status: 0 and the result on stdout; or the CNI error object on stdout and its code as the exit
status (11 "try again later" when the agent is unreachable, 4 bad environment, 6/7 bad config,
1 incompatible version). VERSION is answered locally, without the agent.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from osdn.api.cni import (
    DEFAULT_SOCKET,
    INTERNAL,
    SUPPORTED_VERSIONS,
    TRY_AGAIN,
    CniError,
    CniRequest,
    request_from_env,
    version_result,
)

DEFAULT_TIMEOUT = 120.0  # an ADD waits for the pod's rules; the agent answers long before this

class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over an AF_UNIX stream socket."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def post_json(path: str, url: str, body: Any, timeout: float) -> tuple[int, Any]:
    """POST `body` as JSON to `url` on the unix socket `path`; (HTTP status, decoded JSON)."""
    conn = UnixHTTPConnection(path, timeout)
    try:
        conn.request("POST", url, json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(data) if data else {}
    except ValueError:
        return resp.status, {"code": INTERNAL, "msg": "agent sent a non-JSON answer",
                             "details": data[:200].decode(errors="replace")}


def forward(req: CniRequest) -> dict[str, Any]:
    """Send `req` to the agent; its result, or CniError (TRY_AGAIN if the socket is unreachable)."""
    sock = str(req.config.get("socket") or DEFAULT_SOCKET)
    timeout = float(req.config.get("timeout") or DEFAULT_TIMEOUT)
    try:
        status, answer = post_json(sock, "/cni", req.to_wire(), timeout)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise CniError(TRY_AGAIN, "osdn node agent is not reachable; try again later",
                       f"socket {sock} (from the network config 'socket' key or the default): {exc.strerror}") from None
    except TimeoutError:
        raise CniError(TRY_AGAIN, "osdn node agent did not answer in time; try again later",
                       f"socket {sock}: no answer after {timeout:.0f}s") from None
    except OSError as exc:
        raise CniError(TRY_AGAIN, "osdn node agent connection failed; try again later", f"socket {sock}: {exc}") from None
    if status != 200:
        raise CniError.from_obj(answer if isinstance(answer, dict) else {})
    return answer if isinstance(answer, dict) else {}


def run(env: Mapping[str, str], stdin: str | bytes) -> tuple[int, dict[str, Any] | None]:
    """One invocation: (exit status, JSON to print or None)."""
    version = _version_hint(stdin)
    try:
        req = request_from_env(env, stdin)
        if req.command == "VERSION":
            return 0, version_result(req.version)
        result = forward(req)
        return 0, (result or None) if req.command == "ADD" else None
    except CniError as err:
        return err.code, err.to_obj(version)


def _version_hint(stdin: str | bytes) -> str:
    """The config's cniVersion if readable and supported (errors are written in it), else 1.0.0."""
    try:
        version = json.loads(stdin or b"{}").get("cniVersion")
    except (ValueError, AttributeError):
        return SUPPORTED_VERSIONS[-1]
    return version if version in SUPPORTED_VERSIONS else SUPPORTED_VERSIONS[-1]


def main(env: Mapping[str, str] | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
    """Console-script entry point (`osdn-cni`)."""
    env = os.environ if env is None else env
    raw = (stdin or sys.stdin).read() if env.get("CNI_COMMAND") != "VERSION" or not (stdin or sys.stdin).isatty() else ""
    code, out = run(env, raw)
    if out is not None:
        (stdout or sys.stdout).write(json.dumps(out) + "\n")
    sys.exit(code)


if __name__ == "__main__":
    main()
