"""A tiny scripted HTTP API server on loopback for informer tests: lists from a dict, watch answers
from a queue of scripts (raw bytes to send, then how the stream ends)."""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Obj = dict[str, Any]


def namespace(name: str, rv: int, annotations: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name, "resourceVersion": str(rv)}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def event_line(kind: str, obj: Obj) -> bytes:
    """One watch line as the server writes it: raw UTF-8 (ensure_ascii=False), b"\\n" at the end."""
    return json.dumps({"type": kind, "object": obj}, ensure_ascii=False).encode() + b"\n"


@dataclass
class WatchScript:
    body: bytes
    broken: bool = False      # announce more bytes than sent, then close: the client sees a cut stream
    hold: bool = False        # keep the stream open until the server stops


class FakeApi:
    def __init__(self) -> None:
        self.objects: dict[str, Obj] = {}
        self.rv = 1
        self.scripts: queue.Queue[WatchScript] = queue.Queue()
        self.lists = 0
        self._closing = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def put(self, obj: Obj) -> None:
        self.objects[obj["metadata"]["name"]] = obj
        self.rv = max(self.rv, int(obj["metadata"]["resourceVersion"]))

    def close(self) -> None:
        self._closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if "watch=true" in self.path:
                    self._watch(api.scripts.get())
                else:
                    api.lists += 1
                    body = json.dumps({"kind": "NamespaceList", "metadata": {"resourceVersion": str(api.rv)},
                                       "items": list(api.objects.values())}).encode()
                    self._head(len(body))
                    self.wfile.write(body)

            def _head(self, length: int) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(length))
                self.end_headers()

            def _watch(self, script: WatchScript) -> None:
                self._head(len(script.body) + (100 if script.broken or script.hold else 0))
                self.wfile.write(script.body)
                self.wfile.flush()
                if script.hold:
                    api._closing.wait()
                self.close_connection = True

        return Handler
