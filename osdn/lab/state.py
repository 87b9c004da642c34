"""The lab's state file and its teardown.

Role: remember, *before* creating it, every namespace and process a lab build makes, in
`<lab_dir>/state.json`, so `destroy` can remove all of it after a crash, a failed build or a killed
test. `destroy` is idempotent and also sweeps namespaces that merely carry the lab's name prefix
(`osdn-<lab>-`), which includes pod namespaces made by agents that follow the naming convention.

Invariants: the file is replaced atomically (write + rename); a process is killed only if its pid
still belongs to the process recorded (same start time), so a recycled pid is never hit; nothing
outside the lab's own namespaces is touched (links die with their namespaces).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from osdn.kernel import netns

log = logging.getLogger(__name__)

STATE_FILE = "state.json"


@dataclass
class ProcessRecord:
    pid: int
    netns: str
    argv: list[str]
    start_time: int  # field 22 of /proc/<pid>/stat: guards against pid reuse
    role: str = ""


@dataclass
class LabState:
    """What a lab build has made (or was about to make) — recorded before each step."""

    name: str
    prefix: str
    lab_dir: str
    namespaces: list[str] = field(default_factory=list)
    processes: list[ProcessRecord] = field(default_factory=list)
    topology: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return os.path.join(self.lab_dir, STATE_FILE)

    def save(self) -> None:
        os.makedirs(self.lab_dir, exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(asdict(self), fh, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    def add_namespace(self, name: str) -> None:
        if name not in self.namespaces:
            self.namespaces.append(name)
            self.save()

    def add_process(self, record: ProcessRecord) -> None:
        self.processes.append(record)
        self.save()


def load_state(lab_dir: str) -> LabState | None:
    """The state recorded under `lab_dir`, or None if there is none."""
    try:
        with open(os.path.join(lab_dir, STATE_FILE)) as fh:
            raw = json.load(fh)
    except FileNotFoundError:
        return None
    procs = [ProcessRecord(**p) for p in raw.pop("processes", [])]
    return LabState(**raw, processes=procs)


def process_start_time(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def leftover_namespaces(prefix: str) -> list[str]:
    """Namespaces bound under /run/netns whose names start with the lab prefix."""
    return netns.list_netns(prefix)


@dataclass
class DestroyReport:
    killed: list[int] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)


def destroy(state: LabState, grace: float = 10.0) -> DestroyReport:
    """Stop the lab's processes (SIGKILL after `grace` s of SIGTERM: an API server holding 10k objects
    needs more than 2 s to end its watches and close its store), delete its namespaces (recorded and
    by prefix), drop the state file."""
    if not state.prefix.startswith("osdn-") or len(state.prefix) < 7:
        raise ValueError(f"lab {state.name!r}: refusing to destroy by unsafe prefix {state.prefix!r}")
    report = DestroyReport(killed=_stop_processes(state.processes, grace))
    for name in sorted(set(state.namespaces) | set(leftover_namespaces(state.prefix))):
        if netns.delete_netns(name, kill=True):
            report.namespaces.append(name)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(state.path)
    log.info("lab %s destroyed: %d namespaces, %d processes", state.name, len(report.namespaces),
             len(report.killed))
    return report


def _stop_processes(records: list[ProcessRecord], grace: float) -> list[int]:
    alive = [r.pid for r in records if process_start_time(r.pid) == r.start_time]
    for pid in alive:
        send_signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(process_running(p) for p in alive):
        time.sleep(0.02)
    for pid in alive:
        if process_running(pid):
            log.warning("lab process %d did not stop on SIGTERM; killing it", pid)
            send_signal(pid, signal.SIGKILL)
    for pid in alive:
        reap(pid)
    return alive


def process_running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def send_signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def reap(pid: int) -> None:
    """Collect our own children so they don't linger as zombies (not our child: nothing to do)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
