"""In-process nftables through libnftables (ctypes), bound to one network namespace.

Side effects: this module is the only writer of osdn's nft tables. It never touches a table it was not
asked to (callers name the family and table on every read; writes are whole nft scripts they render).

Network namespaces: `setns(2)` changes the namespace of the calling *thread* only, and libnftables acts
in the namespace of the thread that calls it. So every `Nft` owns one dedicated worker thread: the thread
enters `/run/netns/<name>` once (when `netns` is given), creates the libnftables context there, and runs
every command; callers submit work to it and wait. The caller's own thread never changes namespace.
`netns=None` means the namespace the process was started in.

Errors: a failed command raises `KernelError` carrying nft's own error text and the first lines of the
script. A failed `run` changed nothing: libnftables loads a buffer as one kernel transaction.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from osdn.errors import KernelError, ObjectRef
from osdn.kernel.nfgen import GenerationReader

log = logging.getLogger(__name__)

_CLONE_NEWNET = 0x40000000
_OUTPUT_JSON = 1 << 4
_T = TypeVar("_T")


def _load_lib() -> ctypes.CDLL:
    """Open libnftables.so.1 and declare the few functions osdn calls."""
    try:
        lib = ctypes.CDLL("libnftables.so.1")
    except OSError as exc:
        raise KernelError(f"cannot load libnftables.so.1 (is the nftables package installed?): {exc}") from exc
    lib.nft_ctx_new.restype = ctypes.c_void_p
    lib.nft_ctx_new.argtypes = [ctypes.c_uint]
    lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
    for name in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
        getattr(lib, name).restype = ctypes.c_int
    for name in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
        getattr(lib, name).restype = ctypes.c_char_p
    lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
    lib.nft_ctx_output_get_flags.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_output_get_flags.restype = ctypes.c_uint
    lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
    return lib


def _enter_netns(name: str) -> None:
    """Move the calling thread into /run/netns/<name> (setns is per thread)."""
    libc = ctypes.CDLL(None, use_errno=True)
    path = name if name.startswith("/") else f"/run/netns/{name}"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise KernelError(f"network namespace {name!r}: cannot open {path}: {exc.strerror}",
                          ObjectRef(kind="NetNamespace", name=name)) from exc
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise KernelError(f"network namespace {name!r}: setns failed: {os.strerror(err)}",
                              ObjectRef(kind="NetNamespace", name=name))
    finally:
        os.close(fd)


class _Ctx:
    """One libnftables context; lives and is used on the worker thread only."""

    def __init__(self) -> None:
        self.lib = _load_lib()
        self.ctx = self.lib.nft_ctx_new(0)
        if not self.ctx:
            raise KernelError("nft_ctx_new failed")
        self.lib.nft_ctx_buffer_output(self.ctx)
        self.lib.nft_ctx_buffer_error(self.ctx)
        self.generation = GenerationReader()

    def cmd(self, text: str, as_json: bool) -> str:
        flags = self.lib.nft_ctx_output_get_flags(self.ctx)
        flags = (flags | _OUTPUT_JSON) if as_json else (flags & ~_OUTPUT_JSON)
        self.lib.nft_ctx_output_set_flags(self.ctx, flags)
        rc = self.lib.nft_run_cmd_from_buffer(self.ctx, text.encode())
        out = (self.lib.nft_ctx_get_output_buffer(self.ctx) or b"").decode()
        err = (self.lib.nft_ctx_get_error_buffer(self.ctx) or b"").decode()
        if rc != 0:
            raise KernelError(f"nft command failed: {err.strip() or f'rc={rc}'}\n--- script head:\n"
                              + "\n".join(text.splitlines()[:8]))
        return out

    def free(self) -> None:
        self.generation.close()
        self.lib.nft_ctx_free(self.ctx)


class Nft:
    """libnftables running in network namespace `netns` (None: the process's own namespace).

    Thread-safe: all calls are serialised on the one worker thread. Use as a context manager or call
    `close()`.
    """

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self._local = threading.local()
        self._init_error: KernelError | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"nft-{netns or 'self'}",
                                        initializer=self._init_worker)
        self._closed = False
        try:
            self._submit(lambda ctx: None)  # enter the namespace now, so a bad name fails here
        except KernelError:
            self._closed = True
            self._pool.shutdown(wait=True)
            raise

    def _init_worker(self) -> None:
        """Runs once on the worker thread. On failure the thread has no context, so no command can
        ever run in the wrong namespace; every call re-raises the start-up error."""
        try:
            if self.netns is not None:
                _enter_netns(self.netns)
            self._local.ctx = _Ctx()
        except KernelError as exc:
            self._init_error = exc

    def _submit(self, fn: Callable[[_Ctx], _T]) -> _T:
        if self._closed:
            raise KernelError(f"nft handle for netns {self.netns!r} is closed")

        def call() -> _T:
            ctx = getattr(self._local, "ctx", None)
            if ctx is None:
                raise self._init_error or KernelError(f"nft worker for netns {self.netns!r} failed")
            return fn(ctx)

        try:
            return self._pool.submit(call).result()
        except KernelError:
            raise
        except Exception as exc:  # BrokenThreadPool from a failed initializer, ctypes errors
            raise KernelError(f"nft in netns {self.netns!r}: {exc}") from exc

    def run(self, text: str) -> str:
        """Run an nft script as one atomic transaction; return nft's text output."""
        log.debug("nft[%s] transaction: %d bytes", self.netns, len(text))
        return self._submit(lambda ctx: ctx.cmd(text, as_json=False))

    def run_json_output(self, text: str) -> dict[str, Any]:
        """Run a (read) command with JSON output and return the parsed document."""
        out = self._submit(lambda ctx: ctx.cmd(text, as_json=True))
        return json.loads(out) if out.strip() else {"nftables": []}

    def list_table_json(self, family: str, table: str) -> list[dict[str, Any]] | None:
        """`nft -j list table FAMILY TABLE` as a list of objects; None if the table does not exist."""
        try:
            doc = self.run_json_output(f"list table {family} {table}")
        except KernelError as exc:
            if "No such file or directory" in str(exc):
                return None
            raise
        return [o for o in doc.get("nftables", []) if "metainfo" not in o]

    def generation(self) -> int:
        """The namespace's nftables generation id: bumped by every committed transaction (`nfgen`)."""
        return self._submit(lambda ctx: ctx.generation.read())

    def table_exists(self, family: str, table: str) -> bool:
        """True if FAMILY TABLE exists (listing only table names, cheap)."""
        doc = self.run_json_output(f"list tables {family}")
        return any(o.get("table", {}).get("name") == table for o in doc.get("nftables", []))

    def add_elements(self, family: str, table: str, set_name: str, elements: Iterable[str]) -> None:
        """Add elements (already in nft text syntax) to one set or map, in one transaction."""
        self.run(element_command("add", family, table, set_name, elements))

    def delete_elements(self, family: str, table: str, set_name: str, elements: Iterable[str]) -> None:
        """Delete elements (nft text syntax) from one set or map, in one transaction."""
        self.run(element_command("delete", family, table, set_name, elements))

    def delete_table(self, family: str, table: str) -> None:
        """Delete FAMILY TABLE if it exists."""
        if self.table_exists(family, table):
            self.run(f"delete table {family} {table}")

    def close(self) -> None:
        """Free the libnftables context and stop the worker thread."""
        if self._closed:
            return
        try:
            self._submit(lambda ctx: ctx.free())
        finally:
            self._closed = True
            self._pool.shutdown(wait=True)

    def __enter__(self) -> Nft:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def range_key(key: str) -> str:
    """Pure: an element key of a *concatenated interval* set with its last field written as a range.

    nftables 1.0.6 (Debian 12) cannot delete an element of such a set whose fields are all single
    values (`delete element ... { 256 . tcp . 80 }` fails with ENOENT although the element exists);
    the same element written with a one-value range (`256 . tcp . 80-80`) is found and deleted.

    >>> range_key("256 . tcp . 80"), range_key("256 . 10.0.0.0/8"), range_key("256 . tcp . 9000-9010")
    ('256 . tcp . 80-80', '256 . 10.0.0.0/8', '256 . tcp . 9000-9010')
    """
    head, sep, last = key.rpartition(" . ")
    if "-" in last or "/" in last:
        return key
    return f"{head}{sep}{last}-{last}"


def element_command(verb: str, family: str, table: str, set_name: str, elements: Iterable[str],
                    batch: int = 10000) -> str:
    """Pure: `add|delete element` lines for `elements` (nft text), at most `batch` per line."""
    items = list(elements)
    lines = []
    for i in range(0, len(items), batch):
        chunk = ", ".join(items[i:i + batch])
        lines.append(f"{verb} element {family} {table} {set_name} {{ {chunk} }}")
    return "\n".join(lines)
