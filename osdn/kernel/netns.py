"""Named network namespaces (like `ip netns`) and running code or processes inside them.

Role: the lowest kernel layer. Creates, lists and deletes namespaces bound under /run/netns, runs a
Python function inside a namespace on a dedicated thread (setns(2) is per thread), spawns processes
inside a namespace (`nsenter --net`), and sets sysctls there. `spawn_in_view` starts a process as a pod sees the world
(its netns plus a private mount namespace with the pod's own /etc/resolv.conf and /etc/hosts) through
the fork helper osdn.kernel.nsexec, so no preexec_fn runs in a threaded parent.

Invariants:
- A namespace is never created implicitly: every function except `ensure_netns` raises
  `NetnsNotFoundError` for a missing one. (pyroute2's `IPRoute(netns=...)` creates a missing netns
  unless given `flags=0`; osdn never relies on it.)
- Code run by `run_in_netns` executes on a fresh thread that has entered the namespace; that thread
  ends when the function returns, so no thread is ever left in a foreign namespace.
- The init (host root) namespace is refused unless the caller passes `allow_init_netns=True`: the
  lab must never touch the host's own network.
- Not pure: this module is side effects only.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from osdn.errors import KernelError

log = logging.getLogger(__name__)

NETNS_RUN_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
_MS_BIND, _MS_REC, _MS_SHARED, _MNT_DETACH = 4096, 16384, 1 << 20, 2
_libc = ctypes.CDLL(None, use_errno=True)
T = TypeVar("T")


class NetnsError(KernelError):
    """A namespace operation failed; the message names the namespace."""


class NetnsNotFoundError(NetnsError):
    reason = "NotFound"


class InitNetnsRefusedError(NetnsError):
    """Refused to act in the host's root namespace (safety guard)."""


def netns_path(name: str) -> str:
    """Path of a namespace: a bare name lives in /run/netns; a path (with '/') is used as is."""
    if "/" in name:
        return name
    if not name or name in (".", ".."):
        raise NetnsError(f"invalid network namespace name {name!r}")
    return os.path.join(NETNS_RUN_DIR, name)


def netns_exists(name: str) -> bool:
    path = netns_path(name)
    return os.path.exists(path) and _is_nsfs(path)


def list_netns(prefix: str = "") -> list[str]:
    """Names bound under /run/netns that start with `prefix`, sorted."""
    try:
        names = os.listdir(NETNS_RUN_DIR)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.startswith(prefix))


def ensure_netns(name: str) -> bool:
    """Create namespace `name` (with `lo` down, like `ip netns add`) unless it exists.

    Returns True if it was created. Runs in-process (no fork): a helper thread unshares its network
    namespace and bind-mounts it at /run/netns/NAME.
    """
    path = netns_path(name)
    if netns_exists(name):
        return False
    _prepare_run_dir()
    with contextlib.suppress(FileExistsError):  # a stale mountpoint file, no namespace behind it
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    result: list[BaseException] = []

    def create() -> None:
        try:
            _check(_libc.unshare(CLONE_NEWNET), f"unshare for network namespace {name!r}")
            _check(_libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", _MS_BIND, None),
                   f"bind-mount network namespace {name!r} at {path}")
        except BaseException as exc:  # re-raised on the caller's thread
            result.append(exc)

    thread = threading.Thread(target=create, name=f"netns-create-{name}")
    thread.start()
    thread.join()
    if result:
        _unlink_quietly(path)
        raise result[0]
    log.debug("created network namespace %s", name)
    return True


def delete_netns(name: str, kill: bool = False) -> bool:
    """Unbind namespace `name`; returns False if it did not exist (idempotent).

    With `kill=True` the processes inside are sent SIGKILL first: otherwise they keep the namespace
    (and its links) alive after the name is gone.
    """
    path = netns_path(name)
    if not os.path.exists(path):
        return False
    if kill:
        for pid in pids_in_netns(name):
            _kill_quietly(pid)
    _libc.umount2(path.encode(), _MNT_DETACH)
    _unlink_quietly(path)
    log.debug("deleted network namespace %s", name)
    return True


def pids_in_netns(name: str) -> list[int]:
    """Processes whose network namespace is `name` (like `ip netns pids`)."""
    try:
        st = os.stat(netns_path(name))
    except FileNotFoundError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ns = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        if (ns.st_dev, ns.st_ino) == (st.st_dev, st.st_ino):
            pids.append(int(entry))
    return pids


def run_in_netns(name: str, fn: Callable[..., T], *args: Any,
                 allow_init_netns: bool = False, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` on a fresh thread inside namespace `name`; return or raise its result."""
    fd = _open_netns(name, allow_init_netns)
    box: dict[str, Any] = {}

    def body() -> None:
        try:
            _check(_libc.setns(fd, CLONE_NEWNET), f"setns into network namespace {name!r}")
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised on the caller's thread
            box["error"] = exc

    try:
        thread = threading.Thread(target=body, name=f"netns-{name}")
        thread.start()
        thread.join()
    finally:
        os.close(fd)
    if "error" in box:
        raise box["error"]
    return box["value"]


def spawn_in_netns(name: str, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
    """Start a process inside namespace `name` through `nsenter --net` (util-linux), which enters
    the namespace and execs `argv` (the pid is the program's). No preexec_fn, so this is safe in
    threaded processes.

    The child keeps the host's mount namespace, so /sys/class/net shows the host's links; use
    `spawn_in_view` for a process that should see the namespace's own /sys.
    """
    path = netns_path(name)
    os.close(_open_netns(name, False))  # a clear error for a missing or host namespace
    return subprocess.Popen(["nsenter", f"--net={path}", "--", *argv], **popen_kwargs)


@dataclass(frozen=True)
class PodView:
    """How a pod's processes see the world: its network namespace, files bind-mounted over host
    paths in a private mount namespace (its /etc/resolv.conf and /etc/hosts) and its hostname."""

    netns: str
    binds: tuple[tuple[str, str], ...] = ()  # (file to show, path it shows at)
    hostname: str = ""


def etc_view(name: str, etc_dir: str, hostname: str) -> PodView:
    """The view of a pod whose resolv.conf and hosts files are in `etc_dir`."""
    files = tuple((os.path.join(etc_dir, f), f"/etc/{f}") for f in ("resolv.conf", "hosts"))
    return PodView(name, files, hostname)


def view_argv(view: PodView, argv: Sequence[str]) -> list[str]:
    """The command line that runs `argv` inside `view` through the osdn.kernel.nsexec fork helper."""
    out = [sys.executable, "-m", "osdn.kernel.nsexec", "--net", netns_path(view.netns)]
    for src, dst in view.binds:
        out += ["--bind", f"{src}:{dst}"]
    if view.hostname:
        out += ["--hostname", view.hostname]
    return [*out, "--", *argv]


def spawn_in_view(view: PodView, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
    """Start `argv` as a pod sees the world (see PodView); safe in threaded processes (the namespaces
    are entered by a fresh helper process, which then execs `argv`: the pid is the program's)."""
    os.close(_open_netns(view.netns, False))  # a clear error for a missing or host namespace
    for src, _ in view.binds:
        if not os.path.isfile(src):
            raise NetnsError(f"{src} (to show in network namespace {view.netns!r}) does not exist")
    return subprocess.Popen(view_argv(view, argv), **popen_kwargs)


def run_cmd(name: str, argv: Sequence[str], timeout: float = 30.0,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command in namespace `name` and wait; raise NetnsError naming it on failure if `check`."""
    proc = spawn_in_netns(name, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise NetnsError(f"{' '.join(argv)!r} in netns {name!r} timed out after {timeout}s") from None
    done = subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
    if check and done.returncode != 0:
        raise NetnsError(f"{' '.join(argv)!r} in netns {name!r} failed "
                         f"(exit {done.returncode}): {err.strip()}")
    return done


def set_sysctls(name: str, values: dict[str, str | int]) -> None:
    """Write sysctls (dotted keys, e.g. `net.ipv4.ip_forward`) inside namespace `name`.

    /proc/sys/net is resolved against the opening thread's namespace, so this runs in `run_in_netns`.
    """
    def write_all() -> None:
        for key, value in values.items():
            path = "/proc/sys/" + key.replace(".", "/")
            try:
                with open(path, "w") as fh:
                    fh.write(str(value))
            except OSError as exc:
                raise NetnsError(f"sysctl {key}={value} in netns {name!r}: {exc.strerror}") from exc

    run_in_netns(name, write_all)


def get_sysctl(name: str, key: str) -> str:
    def read() -> str:
        with open("/proc/sys/" + key.replace(".", "/")) as fh:
            return fh.read().strip()

    return run_in_netns(name, read)


def kill_pids(pids: Iterable[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        _kill_quietly(pid, sig)


# -- helpers -----------------------------------------------------------------------------------------

def _open_netns(name: str, allow_init_netns: bool) -> int:
    path = netns_path(name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NetnsNotFoundError(f"network namespace {name!r} does not exist ({path})") from None
    if not allow_init_netns and _is_host_netns(fd):
        os.close(fd)
        raise InitNetnsRefusedError(f"refusing to act in the host's root network namespace ({name!r})")
    return fd


def _is_host_netns(fd: int) -> bool:
    """True if `fd` is the namespace of pid 1 or the one this process started in."""
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino) in _HOST_NETNS


def _host_netns_ids() -> set[tuple[int, int]]:
    ids = set()
    for path in ("/proc/1/ns/net", f"/proc/{os.getpid()}/ns/net"):
        try:
            st = os.stat(path)
        except OSError:  # pid 1 may be out of reach in a sandbox
            continue
        ids.add((st.st_dev, st.st_ino))
    return ids


def _is_nsfs(path: str) -> bool:
    """True if `path` is a bound namespace (not just the empty mountpoint file)."""
    try:
        return os.stat(path).st_dev != os.stat(os.path.dirname(path)).st_dev
    except OSError:
        return False


def _prepare_run_dir() -> None:
    """Make /run/netns a shared mount, like iproute2, so bindings propagate to other mount namespaces."""
    os.makedirs(NETNS_RUN_DIR, exist_ok=True)
    run_dir = NETNS_RUN_DIR.encode()
    if _libc.mount(b"", run_dir, b"none", _MS_SHARED | _MS_REC, None) == 0:
        return
    _check(_libc.mount(run_dir, run_dir, b"none", _MS_BIND | _MS_REC, None), f"bind-mount {NETNS_RUN_DIR}")
    _check(_libc.mount(b"", run_dir, b"none", _MS_SHARED | _MS_REC, None), f"make {NETNS_RUN_DIR} shared")


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise NetnsError(f"{what}: {os.strerror(err)} ({errno.errorcode.get(err, err)})")


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)


def _kill_quietly(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


_HOST_NETNS = _host_netns_ids()  # read once: the netns the process (main thread) started in
