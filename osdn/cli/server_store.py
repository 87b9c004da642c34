"""`osdn server` options choosing the store: the data dir's SQLite file (default) or an etcd cluster.

`store_options` adds --store, the etcd client TLS files and the compaction settings to a click command
and hands the command one keyword argument, `store` (an EtcdStoreChoice, or None for SQLite).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from osdn.store.etcd import EtcdOptions
from osdn.store.etcd_gateway import EtcdTLS, EtcdURL, parse_etcd_url

_E = EtcdOptions()
_FILE = click.Path(exists=True, dir_okay=False)
_OPTIONS = [
    click.option("--store", "store_url", default="", metavar="etcd://HOST:PORT[,HOST:PORT...][/PREFIX]",
                 help="Keep the objects in etcd v3 (several endpoints fail over; keys under PREFIX, default "
                      "/osdn) instead of DATA_DIR/osdn.db."),
    click.option("--etcd-cafile", type=_FILE, default=None, help="CA of etcd's serving certificate (https)."),
    click.option("--etcd-certfile", type=_FILE, default=None, help="Client certificate for etcd (PEM)."),
    click.option("--etcd-keyfile", type=_FILE, default=None, help="Key of --etcd-certfile (PEM)."),
    click.option("--etcd-history", type=click.IntRange(min=100), default=_E.history, show_default=True,
                 help="Revisions of history kept (compaction) and events kept for watch resumes; older: 410."),
    click.option("--etcd-compaction-interval", type=click.FloatRange(min=0), default=_E.compact_interval,
                 show_default=True, help="Seconds between compactions of etcd history (0: never)."),
]


@dataclass(frozen=True)
class EtcdStoreChoice:
    url: EtcdURL
    options: EtcdOptions


def store_options(command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)
    def wrapper(*args: Any, store_url: str, etcd_cafile: str | None, etcd_certfile: str | None,
                etcd_keyfile: str | None, etcd_history: int, etcd_compaction_interval: float, **kwargs: Any) -> Any:
        choice = None
        if store_url:
            url = parse_etcd_url(store_url, EtcdTLS(etcd_cafile, etcd_certfile, etcd_keyfile))
            choice = EtcdStoreChoice(url, EtcdOptions(etcd_history, etcd_compaction_interval))
        return command(*args, store=choice, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper
