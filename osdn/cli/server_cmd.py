"""`osdn server`: run the API server (and master controllers) in the foreground."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import yaml

from osdn.api.satoken import TokenOptions
from osdn.apiserver.connections import ConnectionLimits
from osdn.apiserver.watchqueue import WatchLimits
from osdn.cli.context import handle_errors
from osdn.cli.server_election import election_options
from osdn.cli.server_limits import limit_options
from osdn.cli.server_satoken import service_account_options
from osdn.cli.server_store import EtcdStoreChoice, store_options
from osdn.errors import BadRequestError
from osdn.model.leaderelection import ElectionConfig


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadRequestError(f'--listen "{listen}" must be HOST:PORT, e.g. 127.0.0.1:8443')
    return host, int(port)


@click.command()
@click.option("--data-dir", required=True, type=click.Path(file_okay=False),
              help="Where the store, tokens and admin.conf live (created if missing).")
@click.option("--listen", default="127.0.0.1:8443", show_default=True, help="HOST:PORT to serve on.")
@click.option("--config", "master_config", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Master config file (master.yaml: admissionConfig, networkConfig, ...).")
@click.option("--network-plugin", default="redhat/openshift-ovs-networkpolicy", show_default=True,
              help="SDN mode for a new cluster: subnet, multitenant or networkpolicy (or the "
                   "redhat/openshift-ovs-* names).")
@click.option("--cluster-network", default="10.128.0.0/14", show_default=True)
@click.option("--host-subnet-length", default=9, show_default=True, type=int,
              help="Bits for pods per node (9 -> /23 per node).")
@click.option("--service-network", default="172.30.0.0/16", show_default=True)
@click.option("--service-node-port-range", default=None, metavar="FIRST-LAST",
              help="Ports for NodePort Services (default: the master config's "
              "kubernetesMasterConfig.servicesNodePortRange, else 30000-32767).")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--controllers/--no-controllers", default=True, show_default=True,
              help="Run the master controllers in this process (else run `osdn master` elsewhere).")
@click.option("--insecure-http", is_flag=True, help="Serve plain HTTP instead of TLS (kubectl then sends no token).")
@click.option("--tls-cert-file", default=None, type=click.Path(dir_okay=False),
              help="Serving certificate (PEM); default: one signed by a CA made in DATA_DIR/pki.")
@click.option("--tls-private-key-file", default=None, type=click.Path(dir_okay=False),
              help="Key of --tls-cert-file (PEM).")
@click.option("--tls-ca-file", default=None, type=click.Path(dir_okay=False),
              help="CA of --tls-cert-file, written into admin.conf (default: clients use the system's CAs).")
@click.option("--tls-san", "tls_sans", multiple=True, metavar="NAME|IP",
              help="Extra subject alternative name for the generated serving certificate (repeatable).")
@click.option("--strict-store", is_flag=True,
              help="Refuse to start if any stored object cannot be read (default: skip it with an ERROR).")
@click.option("--max-request-body-bytes", type=click.IntRange(min=1024), default=3 * 1024 * 1024,
              show_default=True, help="Largest request body accepted (413 past it).")
@limit_options
@service_account_options
@store_options
@election_options(None)
@handle_errors
def server(data_dir: str, listen: str, master_config: str | None, network_plugin: str, cluster_network: str,
           host_subnet_length: int, service_network: str, service_node_port_range: str | None, log_level: str,
           controllers: bool,
           insecure_http: bool, tls_cert_file: str | None, tls_private_key_file: str | None,
           tls_ca_file: str | None, tls_sans: tuple[str, ...], strict_store: bool, max_request_body_bytes: int,
           connection_limits: ConnectionLimits, watch_limits: WatchLimits, store: EtcdStoreChoice | None,
           election: ElectionConfig | None, service_accounts: TokenOptions) -> None:
    """Run the osdn API server (and, unless --no-controllers, the master controllers).

    Several servers may share one etcd (--store): the controllers run on the one holding the Lease
    kube-system/osdn-master (--leader-elect, the default with etcd), another takes over when it stops.

    On first start it creates an admin token and DATA_DIR/admin.conf (a kubeconfig for osdn
    --config and kubectl alike). It serves
    TLS with a certificate from its own CA (DATA_DIR/pki) unless given one. SIGTERM or Ctrl-C
    ends open watches and stops it within a second.

    \b
    Examples:
      osdn server --data-dir /var/lib/osdn --listen 127.0.0.1:8443
      osdn server --data-dir /var/lib/osdn --network-plugin multitenant
      osdn server --data-dir /tmp/osdn --listen 127.0.0.1:18443 --insecure-http
      osdn server --data-dir /var/lib/osdn --store etcd://10.0.0.1:2379,10.0.0.2:2379
    """
    from osdn.apiserver.server import ServerConfig, build, serve
    from osdn.client import load_config
    from osdn.master.leader import default_identity, master_service
    from osdn.master.manager import MasterOptions

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host, port = parse_listen(listen)
    plugin = network_plugin if "/" in network_plugin else f"redhat/openshift-ovs-{network_plugin}"
    mc = yaml.safe_load(Path(master_config).read_text()) or {} if master_config else {}
    if service_node_port_range:
        mc.setdefault("kubernetesMasterConfig", {})["servicesNodePortRange"] = service_node_port_range
    cfg = ServerConfig(Path(data_dir), host, port, plugin, cluster_network, host_subnet_length, service_network, mc,
                       insecure_http, tls_cert_file, tls_private_key_file, tls_ca_file, tls_sans,
                       connection_limits=connection_limits, watch_limits=watch_limits, strict_store=strict_store,
                       max_request_body_bytes=max_request_body_bytes, service_accounts=service_accounts)
    if store:
        cfg.etcd, cfg.etcd_options = store.url, store.options
    options = MasterOptions.from_config(mc)
    srv = build(cfg)
    admin = load_config(str(cfg.data_dir / "admin.conf"), server=cfg.url)   # our own URL: servers may share the dir
    services = [master_service(admin, options, election, default_identity(f"{host}:{port}"))] if controllers else []
    click.echo(f"osdn server: serving on {cfg.url}; admin config: {cfg.data_dir / 'admin.conf'}", err=True)
    serve(srv, services)
