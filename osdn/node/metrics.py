"""Prometheus metrics of the node agent (prometheus_client; served only with --metrics-listen).

Side effects: registering metrics in the default registry at import; `serve` starts an HTTP thread.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from osdn.node.dataplane import SyncStats
from osdn.node.intent import NodeIntent

SYNC_SECONDS = Histogram("osdn_node_sync_duration_seconds", "Duration of one dataplane sync",
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
SYNC_ERRORS = Counter("osdn_node_sync_errors_total", "Dataplane syncs that failed")
ELEMENTS = Gauge("osdn_node_nft_elements", "nft set/map elements osdn holds in the node namespace")
ELEMENT_CHANGES = Counter("osdn_node_nft_element_changes_total", "Elements added or removed", ["op"])
TABLE_REPLACES = Counter("osdn_node_nft_table_replaces_total", "Whole-table replaces")
PODS = Gauge("osdn_node_pods", "Pods known to the node", ["scope"])
CNI_SECONDS = Histogram("osdn_node_cni_request_duration_seconds", "CNI request handling time", ["command"],
                        buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


def observe_sync(intent: NodeIntent, stats: SyncStats, seconds: float) -> None:
    SYNC_SECONDS.observe(seconds)
    ELEMENTS.set(stats.elements_total)
    ELEMENT_CHANGES.labels("add").inc(stats.elements_added)
    ELEMENT_CHANGES.labels("remove").inc(stats.elements_removed)
    TABLE_REPLACES.inc(len(stats.replaced_tables))
    PODS.labels("cluster").set(len(intent.pods))
    PODS.labels("local").set(len(intent.local_pods))


def serve(listen: str) -> None:
    """Serve /metrics on `host:port` (a daemon thread)."""
    host, _, port = listen.rpartition(":")
    start_http_server(int(port), addr=host or "127.0.0.1")
