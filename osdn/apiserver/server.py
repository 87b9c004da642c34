"""`osdn server`: the API server process; `serve` also runs the master controllers given as services.

Data directory layout: `osdn.db` (the SQLite store; with --store etcd://... the objects live in etcd), `tokens` (hashed bearer tokens, 0600),
`admin.conf` (a kubeconfig with the admin token and the CA, 0600; written on first start),
`pki/` (the CA and serving certificate, see osdn.apiserver.tls; not used with --insecure-http; and `sa.key`,
the key that signs service account tokens, see osdn.apiserver.satoken).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import uvicorn

from osdn.api.satoken import TokenOptions
from osdn.apiserver.admission import AdmissionChain
from osdn.apiserver.app import create_app
from osdn.apiserver.auth import Authorizer, TokenFile
from osdn.apiserver.bodies import MAX_BODY_BYTES, BodyLimits
from osdn.apiserver.bootstrap import bootstrap, default_cluster_network
from osdn.apiserver.connections import ConnectionLimits, uvicorn_options
from osdn.apiserver.datadir import announce_new_admin, open_etcd_store, open_store, tokens_lost
from osdn.apiserver.plugins import build_plugins, plugin_configs, projectlimit
from osdn.apiserver.plugins.project_request import ProjectRequestTemplate
from osdn.apiserver.projects import Projects
from osdn.apiserver.resources import Resources
from osdn.apiserver.satoken import ServiceAccountTokens, SigningKey
from osdn.apiserver.shutdown import WatchCloser
from osdn.apiserver.tls import ServingFiles, ensure_serving_cert, given_files
from osdn.apiserver.watchqueue import WatchLimits
from osdn.client.config import load_config, write_kubeconfig
from osdn.errors import BadRequestError
from osdn.store import Store
from osdn.store.etcd import EtcdOptions
from osdn.store.etcd_gateway import EtcdURL

log = logging.getLogger(__name__)
SERVICES_STOP_GRACE = 0.25  # seconds the services get to stop before their watches are ended for them


@dataclass
class ServerConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8443
    network_plugin: str = "redhat/openshift-ovs-networkpolicy"
    cluster_network: str = "10.128.0.0/14"
    host_subnet_length: int = 9
    service_network: str = "172.30.0.0/16"
    master_config: dict[str, Any] = field(default_factory=dict)
    insecure_http: bool = False                 # serve plain HTTP (tests, a TLS-terminating proxy)
    tls_cert_file: str | None = None            # the operator's own serving certificate ...
    tls_key_file: str | None = None
    tls_ca_file: str | None = None              # ... and the CA clients trust for it
    extra_sans: tuple[str, ...] = ()
    tls: ServingFiles | None = None             # set by build()
    connection_limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    watch_limits: WatchLimits = field(default_factory=WatchLimits)
    strict_store: bool = False                  # an unreadable stored object stops the start
    etcd: EtcdURL | None = None                 # --store etcd://...: the objects live there (else osdn.db)
    etcd_options: EtcdOptions = field(default_factory=EtcdOptions)
    max_request_body_bytes: int = MAX_BODY_BYTES  # larger request bodies get 413
    service_accounts: TokenOptions = field(default_factory=TokenOptions)  # issuer, audiences, max token life

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else "::1" if self.host == "::" else self.host
        host = f"[{host}]" if ":" in host else host
        return f"{'http' if self.insecure_http else 'https'}://{host}:{self.port}"


def _serving_files(cfg: ServerConfig) -> ServingFiles | None:
    if cfg.insecure_http:
        return None
    if cfg.tls_cert_file or cfg.tls_key_file:
        if not (cfg.tls_cert_file and cfg.tls_key_file):
            raise BadRequestError("--tls-cert-file and --tls-private-key-file go together")
        return given_files(cfg.tls_cert_file, cfg.tls_key_file, cfg.tls_ca_file)
    return ensure_serving_cert(cfg.data_dir, cfg.host, cfg.extra_sans)


def ensure_admin_config(cfg: ServerConfig, tokens: TokenFile) -> Path:
    """Create the admin token and admin.conf (a kubeconfig) on first start; keep the server URL and CA
    current after (an older osdn-format admin.conf is rewritten as a kubeconfig with the same token)."""
    path = cfg.data_dir / "admin.conf"
    ca = cfg.tls.ca_pem if cfg.tls else ""
    if path.exists():
        current = load_config(str(path))
        if current.token and (current.server, current.ca_pem) != (cfg.url, ca):
            write_kubeconfig(path, "osdn", cfg.url, current.user or "system:admin", current.token, ca)
        return path
    token = tokens.create("system:admin", ("system:cluster-admins",))
    write_kubeconfig(path, "osdn", cfg.url, "system:admin", token, ca)
    return path


@dataclass
class Server:
    """Everything one API server process holds; built by `build`, run by `serve`."""

    cfg: ServerConfig
    store: Store
    tokens: TokenFile
    resources: Resources
    projects: Projects
    sa_tokens: ServiceAccountTokens | None = None


def build(cfg: ServerConfig) -> Server:
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(cfg.data_dir, 0o700)
    # both refuse a lost store of an initialised dir
    store = open_etcd_store(cfg.data_dir, cfg.etcd, cfg.etcd_options) if cfg.etcd else \
        open_store(cfg.data_dir, cfg.strict_store)
    new_admin = tokens_lost(cfg.data_dir, store)
    tokens = TokenFile(cfg.data_dir / "tokens")
    cfg.tls = _serving_files(cfg)
    ensure_admin_config(cfg, tokens)
    if new_admin:
        announce_new_admin(cfg.data_dir)
    resources = Resources(store, Authorizer(store), AdmissionChain(build_plugins(cfg.master_config)))
    for name in resources.resume_namespace_deletions():
        log.warning("namespace %s was left Terminating by an interrupted delete: deleted it and its contents", name)
    for name in resources.collector.resume():
        log.warning("%s was left in a foreground deletion by a stopped server: collected it again", name)
    bootstrap(resources, default_cluster_network(cfg.network_plugin, cfg.cluster_network,
                                                 cfg.host_subnet_length, cfg.service_network))
    projects = Projects(resources, projectlimit.max_projects(
        plugin_configs(cfg.master_config or {}).get("ProjectRequestLimit")))
    projects.on_created.append(ProjectRequestTemplate(resources))
    sa_tokens = ServiceAccountTokens(store, SigningKey.load_or_create(cfg.data_dir / "pki"), cfg.service_accounts)
    return Server(cfg, store, tokens, resources, projects, sa_tokens)


class Service(Protocol):
    """Something that runs next to the API server (the master controllers): started once the
    server listens, stopped when it shuts down."""

    def start(self) -> Any: ...
    def stop(self) -> None: ...


class _Uvicorn(uvicorn.Server):
    """uvicorn.Server whose shutdown first tells the services to stop (their informers then end
    without re-watching), gives them SERVICES_STOP_GRACE seconds, then ends every open watch stream,
    so the graceful stop has nothing left to wait for (no ERROR about cancelled tasks)."""

    services: Sequence[Service] = ()
    closer: WatchCloser | None = None

    async def shutdown(self, sockets: Any = None) -> None:
        stopping = asyncio.ensure_future(asyncio.gather(*(asyncio.to_thread(_stop, s) for s in self.services)))
        await asyncio.wait([stopping], timeout=SERVICES_STOP_GRACE)
        if self.closer is not None:
            await self.closer.close()
        await super().shutdown(sockets)
        await stopping


def _stop(service: Service) -> None:
    try:
        service.stop()
    except Exception:
        log.exception("stopping %s failed", type(service).__name__)


def _start_when_listening(server: _Uvicorn, services: Sequence[Service]) -> None:
    while not server.started and not server.should_exit:
        time.sleep(0.005)
    for service in services:
        if server.should_exit:
            return
        try:
            service.start()
        except Exception:
            log.exception("%s failed to start; the API server keeps running without it", type(service).__name__)


def serve(server: Server, services: Sequence[Service] = ()) -> None:
    app = WatchCloser(create_app(server.store, server.tokens, server.resources, server.projects,
                                 server.cfg.watch_limits, BodyLimits(server.cfg.max_request_body_bytes),
                                 server.sa_tokens))
    log.info("osdn server listening on %s (data dir %s)", server.cfg.url, server.cfg.data_dir)
    tls = server.cfg.tls
    userver = _Uvicorn(uvicorn.Config(app, host=server.cfg.host, port=server.cfg.port, log_level="warning",
                                      access_log=False, timeout_graceful_shutdown=1,
                                      ssl_certfile=str(tls.cert) if tls else None,
                                      ssl_keyfile=str(tls.key) if tls else None,
                                      **uvicorn_options(server.cfg.connection_limits)))
    userver.services, userver.closer = services, app
    threading.Thread(target=_start_when_listening, args=(userver, services), name="services", daemon=True).start()
    gc.freeze()  # what is loaded by now lives as long as the process: no collection or exit-time teardown
    with _stop_signals_end_normally():
        userver.run()
    server.store.close()


@contextlib.contextmanager
def _stop_signals_end_normally() -> Iterator[None]:
    """uvicorn handles SIGTERM/SIGINT itself and re-raises them after its graceful stop: answer them
    here with nothing, so a requested stop closes the store and exits 0 (no "Aborted!", no -15)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
