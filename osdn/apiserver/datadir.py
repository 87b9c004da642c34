"""Start-up checks of the data directory: an initialised cluster is never served from a lost store.

A data dir is *initialised* once it holds `tokens` or `admin.conf`. Then its store `osdn.db` must be
there and hold the cluster: a missing, empty or unreadable store is refused with one line that says
what, which file and what to do (serving an empty cluster while the old tokens still work would hand
every old token holder a fresh cluster). The other way round, a store whose `tokens` file is gone
gets a new admin token and admin.conf, and the server says so: every old token is invalid.

With `--store etcd://...` the objects live in etcd, but tokens, admin.conf and pki/ stay in the data
dir, so the same rules hold: an initialised data dir whose etcd prefix holds no object is refused (a
wrong URL or prefix, or a lost etcd, must not become a fresh cluster), and a data dir that holds a
SQLite `osdn.db` is refused with etcd (its objects would silently stop being served).
"""

from __future__ import annotations

import logging
from pathlib import Path

from osdn.store import Store, StoreError
from osdn.store.etcd import EtcdOptions, EtcdStore
from osdn.store.etcd_gateway import EtcdURL
from osdn.store.sqlite import SQLiteStore

log = logging.getLogger(__name__)
STORE, TOKENS, ADMIN_CONF = "osdn.db", "tokens", "admin.conf"


def _markers(data_dir: Path) -> list[str]:
    return [name for name in (TOKENS, ADMIN_CONF) if (data_dir / name).exists()]


def _refusal(db: Path, what: str, markers: list[str]) -> str:
    return (f"refusing to start: the store {db} {what}, but {db.parent} was initialised ({' and '.join(markers)} "
            f"present); restore {db.name} from a backup, or move {db.parent} away to start a new cluster")


def open_etcd_store(data_dir: Path, etcd: EtcdURL, options: EtcdOptions | None = None) -> EtcdStore:
    """The etcd store for this data dir; StoreError if the dir holds a SQLite store, or was initialised
    and the etcd prefix holds no object."""
    db, markers = data_dir / STORE, _markers(data_dir)
    if db.exists():
        raise StoreError(f"refusing to start: --store {etcd} was given, but {data_dir} holds the SQLite store "
                         f"{db}; start without --store to serve it, or move {data_dir} away to use etcd")
    store = EtcdStore(etcd, options)
    if markers and store.is_empty():
        store.close()
        raise StoreError(f"refusing to start: the store {etcd} holds no object, but {data_dir} was initialised "
                         f"({' and '.join(markers)} present); check the --store URL and prefix, restore etcd from "
                         f"a snapshot, or move {data_dir} away to start a new cluster")
    return store


def open_store(data_dir: Path, strict: bool = False) -> SQLiteStore:
    """The data dir's store; StoreError if an initialised data dir's store is missing, empty or unreadable."""
    db, markers = data_dir / STORE, _markers(data_dir)
    if markers and not db.exists():
        raise StoreError(_refusal(db, "is missing", markers))
    store = SQLiteStore(db, strict=strict)
    if markers and store.current_rv() == 0:
        store.close()
        raise StoreError(_refusal(db, "is empty", markers))
    return store


def tokens_lost(data_dir: Path, store: Store) -> bool:
    """True when the store holds a cluster but `tokens` is gone. The stale admin.conf (its token is
    no longer valid) is then removed, so the caller makes a new admin token and config."""
    if (data_dir / TOKENS).exists() or store.is_empty():
        return False
    (data_dir / ADMIN_CONF).unlink(missing_ok=True)
    return True


def announce_new_admin(data_dir: Path) -> None:
    log.warning("the tokens file %s was missing: every earlier token is invalid; a new admin token was "
                "created and written to %s", data_dir / TOKENS, data_dir / ADMIN_CONF)
