"""Worker processes for the egress proxies: N copies of one event loop, one per CPU by default.

Each worker binds its own listening sockets with SO_REUSEPORT, so the kernel spreads new connections
over them (haproxy runs one thread per CPU the same way). The parent is worker 0; the others are
forked before any event loop exists. SIGTERM/SIGINT to the parent stops it, and it then stops and
reaps the others; a worker that dies is not replaced (the others keep serving).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable


def worker_count(text: str | None) -> int:
    """EGRESS_PROXY_WORKERS, or the number of CPUs this process may run on (at most 8)."""
    if text and text.isdigit() and int(text) > 0:
        return min(int(text), 64)
    return max(1, min(8, len(os.sched_getaffinity(0))))


def run_workers(count: int, serve: Callable[[], int]) -> int:
    children = []
    for _ in range(count - 1):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = serve()
            finally:
                os._exit(code)
        children.append(pid)
    try:
        return serve()
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
