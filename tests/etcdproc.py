"""A real etcd for tests: its own process on free loopback ports with a temp data dir, always stopped.

`etcd_server(tmp)` is a context manager; tests skip (not fail) only when the `etcd` binary is absent.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port


@dataclass
class EtcdProc:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, prefix: str = "") -> str:
        return f"etcd://{self.endpoint}{prefix}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def etcd_binary() -> str:
    path = shutil.which("etcd")
    if path is None:
        pytest.skip("the etcd binary is absent (scripts/setup.sh installs etcd-server)")
    return path


@contextmanager
def etcd_server(tmp: Path) -> Iterator[EtcdProc]:
    binary = etcd_binary()
    port, peer = free_port(), free_port()
    log = tmp / f"etcd-{port}.log"
    client, peer_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{peer}"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [binary, "--name", "t", "--data-dir", str(tmp / f"etcd-{port}"), "--listen-client-urls", client,
             "--advertise-client-urls", client, "--listen-peer-urls", peer_url,
             "--initial-advertise-peer-urls", peer_url, "--initial-cluster", f"t={peer_url}"],
            stdout=out, stderr=out)
    etcd = EtcdProc(port, proc, log)
    try:
        _wait_ready(etcd)
        yield etcd
    finally:
        etcd.stop()


def _wait_ready(etcd: EtcdProc) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if etcd.proc.poll() is not None:
            raise RuntimeError(f"etcd exited with {etcd.proc.returncode}; see {etcd.log}")
        try:
            if httpx.get(f"http://{etcd.endpoint}/health", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"etcd did not become ready in 20 s; see {etcd.log}")
