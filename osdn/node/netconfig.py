"""The node's share of `Network cluster`: kubeProxyConfig sync periods, applied live.

`ProxyConfig` watches the Network object. On every change it computes the effective periods
(a value pinned on the command line or in node.yaml wins over the cluster's, which wins over the
defaults), hands them to the sync runner, and records the applied generation in the Node's
`network.osdn.io/applied-network-generation` annotation, which `ClusterOperator network` reads.
`reporting_errors()` wraps a data-plane sync: a failing sync's error goes into the Node's
`network.osdn.io/network-config-error` annotation (ClusterOperator Degraded), a good one clears it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from osdn.api.duration import format_duration
from osdn.api.kinds.operator import NETWORK_NAME, proxy_periods
from osdn.client import Client, ClientConfig
from osdn.client.backoff import reconnect_backoff
from osdn.client.informer import Informer
from osdn.errors import OsdnError
from osdn.model.operator_status import APPLIED_ANNOTATION, ERROR_ANNOTATION

log = logging.getLogger(__name__)
Obj = dict[str, Any]
DEFAULT_SYNC_PERIOD = 30.0
DEFAULT_MIN_SYNC_PERIOD = 1.0


@dataclass(frozen=True)
class Periods:
    sync: float
    min_sync: float

    def describe(self) -> str:
        return f"syncPeriod {format_duration(self.sync)}, minSyncPeriod {format_duration(self.min_sync)}"


def effective_periods(network: Obj | None, pinned_sync: float | None, pinned_min: float | None) -> Periods:
    """Pure: pinned (flag / node.yaml) > `Network cluster` kubeProxyConfig > defaults."""
    cluster_sync, cluster_min = proxy_periods(network)
    sync = pinned_sync if pinned_sync is not None else cluster_sync or DEFAULT_SYNC_PERIOD
    min_sync = pinned_min if pinned_min is not None else (
        cluster_min if cluster_min is not None else DEFAULT_MIN_SYNC_PERIOD)
    return Periods(sync, min(min_sync, sync))


class ProxyConfig:
    """Keeps `apply(Periods)` fed with the effective periods and reports them on Node `node_name`."""

    def __init__(self, config: ClientConfig, node_name: str, apply: Callable[[Periods], None],
                 pinned_sync: float | None = None, pinned_min: float | None = None) -> None:
        self.node_name, self.apply = node_name, apply
        self.pinned_sync, self.pinned_min = pinned_sync, pinned_min
        self.client = Client(config)
        self.informer = Informer(config, "Network", handlers=[self._on_event], backoff=reconnect_backoff())
        self.current: Periods | None = None
        self._error: str | None = None  # what the Node's error annotation says (None: absent)

    def start(self, timeout: float = 30.0) -> Periods:
        """Start watching; apply the config found at start (or the defaults if there is none)."""
        self.informer.start()
        if not self.informer.wait_synced(timeout):
            raise OsdnError(f"could not list Network objects within {timeout:.0f}s")
        return self.refresh()

    def stop(self) -> None:
        self.informer.stop()
        self.client.close()

    def _on_event(self, _type: str, new: Obj | None, old: Obj | None) -> None:
        if ((new or old) or {}).get("metadata", {}).get("name") == NETWORK_NAME and self.current is not None:
            self.refresh()

    def refresh(self) -> Periods:
        network = self.informer.get(NETWORK_NAME)
        periods = effective_periods(network, self.pinned_sync, self.pinned_min)
        if periods != self.current:
            self.apply(periods)
            pinned = " (pinned on this node)" if None not in (self.pinned_sync, self.pinned_min) else ""
            log.info("node %s: %s%s", self.node_name, periods.describe(), pinned)
        self.current = periods
        generation = int(((network or {}).get("metadata") or {}).get("generation") or 0)
        self._annotate(APPLIED_ANNOTATION, str(generation))
        return periods

    @contextlib.contextmanager
    def reporting_errors(self) -> Iterator[None]:
        """Around one sync: record its failure on the Node, or clear a recorded one when it succeeds."""
        try:
            yield
        except Exception as exc:
            text = (exc.message if isinstance(exc, OsdnError) else f"{type(exc).__name__}: {exc}")[:500]
            if text != self._error:
                self._error = text if self._annotate(ERROR_ANNOTATION, text) else self._error
            raise
        if self._error is not None and self._annotate(ERROR_ANNOTATION, None):
            self._error = None

    def _annotate(self, key: str, value: str | None) -> bool:
        try:
            self.client.patch("Node", self.node_name, {"metadata": {"annotations": {key: value}}})
            return True
        except OsdnError as exc:
            log.warning("node %s: cannot set annotation %s: %s", self.node_name, key, exc.message)
            return False
