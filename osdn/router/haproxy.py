"""HAProxy as a process: configuration generations, `haproxy -c`, master-worker start and reloads.

Files: `<run>/staging/` receives a new generation and is checked with `haproxy -c` (its working
directory is the staging directory, so the relative paths of the generation resolve there); only a
valid generation is moved into `<run>/live/`, the master's working directory, and only then is the
master told to reload (SIGUSR2). An invalid generation never reaches `live/`: the last good
configuration keeps serving. In master-worker mode (`-W`) the master re-executes itself with the
new configuration, hands the listening sockets to the new worker and lets the old worker finish its
open connections, so a reload drops none.

The master runs in `netns` when given (the router pod's network namespace) and in the foreground
(`-db`) as a child of the router: if it exits, `master_alive()` says so.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from osdn.kernel import netns as kernel_netns

log = logging.getLogger(__name__)
CONFIG = "haproxy.cfg"


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    output: str


class HAProxy:
    def __init__(self, run_dir: Path, netns: str | None = None, binary: str = "haproxy") -> None:
        self.run_dir, self.netns, self.binary = run_dir, netns, binary
        self.staging, self.live = run_dir / "staging", run_dir / "live"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = run_dir / "haproxy.log"
        self.pid_file = run_dir / "haproxy.pid"

    # ---- generations ---------------------------------------------------------------------------
    def stage(self, files: dict[str, str]) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        for name, text in files.items():
            path = self.staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)

    def check(self) -> CheckResult:
        """`haproxy -c` on the staged generation."""
        done = subprocess.run([self.binary, "-c", "-f", CONFIG], cwd=self.staging, capture_output=True,
                              text=True, timeout=120, check=False)
        return CheckResult(done.returncode == 0, (done.stdout + done.stderr).strip())

    def promote(self) -> None:
        """Move the staged generation into live/ (files no longer wanted are removed)."""
        wanted = {p.relative_to(self.staging) for p in self.staging.rglob("*") if p.is_file()}
        self.live.mkdir(parents=True, exist_ok=True)
        for old in [p for p in self.live.rglob("*") if p.is_file()]:
            if old.relative_to(self.live) not in wanted:
                old.unlink()
        for rel in sorted(wanted):
            (self.live / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.staging / rel, self.live / rel)

    # ---- process -------------------------------------------------------------------------------
    def start(self) -> None:
        self._end_previous_master()
        argv = [self.binary, "-W", "-db", "-p", str(self.pid_file), "-f", CONFIG]
        with open(self.log_path, "ab") as out:
            if self.netns:
                self.proc = kernel_netns.spawn_in_netns(self.netns, argv, cwd=self.live, stdout=out,
                                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            else:
                self.proc = subprocess.Popen(argv, cwd=self.live, stdout=out, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL)
        log.info("haproxy master started (pid %d%s)", self.proc.pid, f", netns {self.netns}" if self.netns else "")

    def _end_previous_master(self) -> None:
        """A master left by a router that was killed (its pid file names it): stop it first."""
        try:
            pid = int(self.pid_file.read_text().split()[0])
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except (OSError, ValueError, IndexError):
            return
        if comm == "haproxy":
            log.warning("haproxy master %d of a previous router still runs: stopping it", pid)
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.05)

    def reload(self) -> None:
        """Tell the master to load live/ again (no dropped connections)."""
        if self.proc is None:
            self.start()
            return
        os.kill(self.proc.pid, signal.SIGUSR2)

    def master_alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
