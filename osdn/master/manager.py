"""The master process: reads the cluster network, starts the controllers, stops them.

Used by `osdn server` (in-process threads, loopback client with the admin token) and by
`osdn master` (against a remote API server). `MasterOptions.from_config` reads the master config
file (master.yaml) section `egressHealth` (see docs/master.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from osdn.client import Client, ClientConfig
from osdn.errors import OsdnError
from osdn.master.controller import Controller, Informers
from osdn.master.deployments import DeploymentController
from osdn.master.egress import EgressController
from osdn.master.egressdns import EgressDNSController, EgressDNSOptions, make_resolver
from osdn.master.egressrouter import EgressRouterController
from osdn.master.endpoints import EndpointsController
from osdn.master.endpointslices import EndpointSliceController
from osdn.master.events import Recorder
from osdn.master.hostsubnets import HostSubnetController
from osdn.master.netnamespaces import NetNamespaceController
from osdn.master.operator import ClusterOperatorController
from osdn.master.probe import ProbeOptions
from osdn.master.quota import QuotaController
from osdn.master.replicasets import ReplicaSetController
from osdn.master.replication import ReplicationController
from osdn.master.serviceaccounts import ServiceAccountsController
from osdn.model.sdnconfig import NetworkConfig, parse_network_config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MasterOptions:
    probe: ProbeOptions = field(default_factory=ProbeOptions)
    egress_debounce: float = 0.05
    egress_assign_quiet: float = 1.0
    egress_dns: EgressDNSOptions = field(default_factory=EgressDNSOptions)

    @classmethod
    def from_config(cls, master_config: dict[str, Any] | None) -> MasterOptions:
        section = (master_config or {}).get("egressHealth") or {}
        dns_section = (master_config or {}).get("egressDNS") or {}
        return cls(probe=ProbeOptions.from_dict(section), egress_dns=EgressDNSOptions.from_dict(dns_section))


def load_network(client: Client, timeout: float = 30.0) -> NetworkConfig:
    """ClusterNetwork `default`, parsed; waits for the API server to answer (it may be starting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return parse_network_config(client.get("ClusterNetwork", "default"))
        except OsdnError as err:
            if time.monotonic() > deadline or err.code in (401, 403, 422):
                raise
            time.sleep(0.05)


class Master:
    def __init__(self, config: ClientConfig, options: MasterOptions | None = None,
                 fence: Callable[[], str] | None = None) -> None:
        """`fence`: the leader's write fence (osdn.master.leader); every controller write carries it."""
        self.config, self.options = config, options or MasterOptions()
        self.client = Client(config, fence=fence)
        self.informers = Informers(config)
        self.controllers: list[Controller] = []
        self.network: NetworkConfig | None = None
        self._started = threading.Event()
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))

    def start(self, sync_timeout: float = 30.0) -> Master:
        self.network = load_network(self.client, sync_timeout)
        recorder = Recorder(self.client)
        self.controllers = [
            NetNamespaceController(self.client, self.informers, self.network, recorder),
            HostSubnetController(self.client, self.informers, self.network, recorder),
            EgressController(self.client, self.informers, self.network, recorder, self.options.probe,
                             self.options.egress_debounce, self.options.egress_assign_quiet),
            ClusterOperatorController(self.client, self.informers),
            EndpointsController(self.client, self.informers),
            EndpointSliceController(self.client, self.informers),
            ReplicationController(self.client, self.informers),
            ReplicaSetController(self.client, self.informers),
            DeploymentController(self.client, self.informers, recorder),
            EgressRouterController(self.client, self.informers),
            EgressDNSController(self.client, self.informers, make_resolver(self.options.egress_dns)),
            QuotaController(self.client, self.informers),
            ServiceAccountsController(self.client, self.informers),
        ]
        self.informers.start()
        if not self.informers.wait_synced(sync_timeout):
            raise OsdnError(f"master: informers did not sync within {sync_timeout:.0f}s from {self.config.server}")
        for controller in self.controllers:
            controller.start()
        self._started.set()
        log.info("master: %s mode, %d controllers running against %s", self.network.mode.value,
                 len(self.controllers), self.config.server)
        return self

    def stop(self) -> None:
        for controller in self.controllers:
            controller.stop()
        self.informers.stop()
        self.client.close()

    def controller(self, name: str) -> Controller:
        return next(c for c in self.controllers if c.name == name)
