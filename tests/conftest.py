"""Shared fixtures: a real `osdn server` process (TLS, its own CA) on a free loopback port, and root-only skips."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import settings
from polling import wait_for  # noqa: F401  (re-exported: `from tests.conftest import wait_for`)

# Property tests run the same examples on every CI run (a failure reproduces, CI does not flake on a
# new random draw); HYPOTHESIS_PROFILE=explore draws new examples each run, to hunt for bugs.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session", autouse=True)
def private_kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests never touch the user's kubeconfig: `osdn lab up` merges its context into $KUBECONFIG,
    and the CLI reads it, so the whole session gets a private, initially absent one."""
    path = tmp_path_factory.mktemp("kube") / "config"
    old = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(path)
    try:
        yield path
    finally:
        if old is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = old


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (kernel/e2e test)")
    for item in items:
        if "kernel" in item.keywords or "e2e" in item.keywords:
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProc:
    data_dir: Path
    port: int
    args: list[str]
    proc: subprocess.Popen[bytes] | None = None

    @property
    def insecure(self) -> bool:
        return "--insecure-http" in self.args

    @property
    def url(self) -> str:
        return f"{'http' if self.insecure else 'https'}://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        """The server's CA (DATA_DIR/pki/ca.crt): what `http()` and kubectl trust."""
        return self.data_dir / "pki" / "ca.crt"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        return True if self.insecure else ssl.create_default_context(cafile=str(self.ca_file))

    @property
    def config(self) -> Path:
        return self.data_dir / "admin.conf"

    @property
    def admin_token(self) -> str:
        from osdn.client.config import load_config
        return load_config(str(self.config)).token

    def http(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        """A raw HTTP client for this server; authenticated as admin unless `token` is "" or another token.

        Tests that talk HTTP to the server use this (not httpx.get(server.url)), so how the client
        reaches the server (scheme, CA) is decided in one place.
        """
        tok = self.admin_token if token is None else token
        headers = {"Authorization": f"Bearer {tok}"} if tok else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, verify=self.verify, **kwargs)

    def start(self) -> None:
        log_path = self.data_dir.parent / f"server-{self.port}.log"
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "osdn", "server", "--data-dir", str(self.data_dir),
                 "--listen", f"127.0.0.1:{self.port}", *self.args], stdout=log, stderr=log)
        try:
            self._wait_healthy(log_path)
        except BaseException:
            self.stop()   # a server that never became healthy must not outlive the test
            raise

    def _wait_healthy(self, log_path: Path) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + 60  # generous: CI runs two workers and labs on two cores
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"osdn server exited with {self.proc.returncode}; see {log_path}")
            try:
                if self.config.exists() and httpx.get(f"{self.url}/healthz", timeout=0.5,
                                                      verify=self.verify).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"osdn server did not become healthy in 60 s; see {log_path}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kubectl(self, *args: str, kubeconfig: Path | None = None, input: str | None = None,
                check: bool = False) -> subprocess.CompletedProcess[str]:
        """The real kubectl against this server, with admin.conf (or `kubeconfig`) as its only config."""
        env = {**os.environ, "KUBECONFIG": str(kubeconfig or self.config), "HOME": str(self.data_dir.parent)}
        r = subprocess.run(["kubectl", *args], capture_output=True, text=True, input=input, env=env, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r

    def cli(self, *args: str, token: str | None = None, config: Path | None = None,
            input: str | None = None, check: bool = False) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "osdn", "--config", str(config or self.config)]
        if token:
            cmd += ["--token", token]
        r = subprocess.run([*cmd, *args], capture_output=True, text=True, input=input, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"osdn {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r


def start_server(tmp_path: Path, *args: str) -> ServerProc:
    srv = ServerProc(tmp_path / "data", free_port(), list(args))
    srv.start()
    return srv


def module_server(name: str, *args: str) -> Any:
    """A module-scoped fixture (assign it to the fixture's name): one server started with `args` for
    every test of the module, stopped after the last."""
    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
        srv = start_server(tmp_path_factory.mktemp(name), *args)
        try:
            yield srv
        finally:
            srv.stop()
    return fixture


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProc]:
    srv = start_server(tmp_path)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def multitenant_server(tmp_path: Path) -> Iterator[ServerProc]:
    srv = start_server(tmp_path, "--network-plugin", "multitenant")
    try:
        yield srv
    finally:
        srv.stop()
