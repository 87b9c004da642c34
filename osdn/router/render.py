"""The HAProxy configuration for a set of admitted routes, as files. Pure and deterministic.

Shape (that of the upstream OpenShift router's template, reduced):
- `public` (HTTP, port 80): routes with `insecureEdgeTerminationPolicy: Redirect` answer a 302 to
  https (`os_route_http_redirect.map`); plain routes and TLS routes with `Allow` go to their backend
  (`os_http_be.map`); everything else gets the empty `openshift_default` backend (503).
- `public_ssl` (TCP, port 443): the TLS ClientHello's SNI picks a passthrough backend
  (`os_tcp_be.map`); every other connection goes through `be_sni` to the `fe_sni` frontend on a
  unix socket, which terminates TLS with the route's certificate (`cert_config.map`, a crt-list by
  SNI) or the default certificate, and picks the edge or reencrypt backend (`os_edge_reencrypt_be.map`).
- Backends: `be_http:NS:NAME` (plain), `be_edge_http:NS:NAME` (edge), `be_secure:NS:NAME`
  (reencrypt: TLS to the pods, verified against `destinationCACertificate`, else the system CAs, with
  the host name `SERVICE.NS.svc`), `be_tcp:NS:NAME` (passthrough). HSTS is a response header of
  edge and reencrypt backends only.
Maps are regexes over HAProxy's `base` (Host header + path), one line per route, longest path first
so a more specific path wins; wildcard routes after exact hosts. Every path in the files except the
sockets and the default certificate is relative: HAProxy resolves them against its working directory,
so a generation is checked (`haproxy -c`) in a staging directory and then moved into the live one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from osdn.router.model import RouteDesc, Server


@dataclass(frozen=True)
class RouterSettings:
    run_dir: str  # absolute: sockets live here (stable across generations)
    default_certificate: str  # absolute path of the default certificate + key (PEM)
    http_port: int = 80
    https_port: int = 443
    max_connections: int = 20000
    default_balance: str = "random"
    timeout_client: str = "30s"
    timeout_server: str = "30s"
    timeout_tunnel: str = "1h"


@dataclass(frozen=True)
class Backend:
    route: RouteDesc
    servers: tuple[Server, ...]


HTTP_MAP, TLS_MAP, TCP_MAP = "os_http_be.map", "os_edge_reencrypt_be.map", "os_tcp_be.map"
REDIRECT_MAP, CERT_LIST = "os_route_http_redirect.map", "cert_config.map"
CONFIG = "haproxy.cfg"


def backend_name(route: RouteDesc) -> str:
    prefix = {"": "be_http", "edge": "be_edge_http", "reencrypt": "be_secure", "passthrough": "be_tcp"}
    return f"{prefix[route.termination]}:{route.namespace}:{route.name}"


def host_regex(route: RouteDesc) -> str:
    """Upstream `generateRouteRegexp`: host (or `[^.]*.domain` for a wildcard), port, path."""
    host = re.escape(route.host)
    if route.wildcard and "." in route.host:
        host = r"[^\.]*\." + re.escape(route.host.split(".", 1)[1])
    path = route.path
    if not path.rstrip("/"):
        return f"^{host}(:[0-9]+)?(/.*)?$"
    return f"^{host}(:[0-9]+)?{re.escape(path)}{'(.*)?' if path.endswith('/') else '(/.*)?'}$"


def sni_regex(route: RouteDesc) -> str:
    host = re.escape(route.host)
    if route.wildcard and "." in route.host:
        host = r"[^\.]*\." + re.escape(route.host.split(".", 1)[1])
    return f"^{host}$"


def _order(route: RouteDesc) -> tuple[bool, str, int, str, str]:
    return route.wildcard, route.host, -len(route.path), route.namespace, route.name


def _map(lines: Iterable[tuple[RouteDesc, str]]) -> str:
    return "".join(f"{line}\n" for _, line in sorted(lines, key=lambda x: _order(x[0])))


def cert_file(route: RouteDesc) -> str:
    return f"certs/{route.namespace}:{route.name}.pem"


def ca_file(route: RouteDesc) -> str:
    return f"cacerts/{route.namespace}:{route.name}.pem"


def render_maps(routes: list[RouteDesc]) -> dict[str, str]:
    http = [(r, f"{host_regex(r)} {backend_name(r)}") for r in routes
            if r.termination == "" or (r.termination in ("edge", "reencrypt") and r.insecure_policy == "Allow")]
    redirect = [(r, f"{host_regex(r)} {backend_name(r)}") for r in routes
                if r.termination in ("edge", "reencrypt", "passthrough") and r.insecure_policy == "Redirect"]
    tls = [(r, f"{host_regex(r)} {backend_name(r)}") for r in routes if r.termination in ("edge", "reencrypt")]
    tcp = [(r, f"{sni_regex(r)} {backend_name(r)}") for r in routes if r.termination == "passthrough"]
    certs = [(r, f"{cert_file(r)} {'*.' + r.host.split('.', 1)[1] if r.wildcard else r.host}")
             for r in routes if r.certificate]
    return {HTTP_MAP: _map(http), REDIRECT_MAP: _map(redirect), TLS_MAP: _map(tls), TCP_MAP: _map(tcp),
            CERT_LIST: _map(certs)}


def render_backend(backend: Backend, settings: RouterSettings) -> str:
    r = backend.route
    tcp = r.termination == "passthrough"
    lines = [f"backend {backend_name(r)}", f"  mode {'tcp' if tcp else 'http'}",
             f"  balance {r.balance or ('source' if tcp else settings.default_balance)}"]
    if r.timeout:
        lines.append(f"  timeout {'tunnel' if tcp else 'server'} {r.timeout}")
    if not tcp:
        lines += ["  option forwardfor",
                  "  http-request set-header X-Forwarded-Host %[req.hdr(host)]",
                  "  http-request set-header X-Forwarded-Port %[dst_port]",
                  "  http-request set-header X-Forwarded-Proto http if !{ ssl_fc }",
                  "  http-request set-header X-Forwarded-Proto https if { ssl_fc }"]
    if r.hsts is not None:
        lines.append(f"  http-response set-header Strict-Transport-Security '{r.hsts}'")
    for s in backend.servers:
        line = f"  server {s.name} {s.ip}:{s.port} weight {s.weight}"
        if r.termination == "reencrypt":
            ca = ca_file(r) if r.destination_ca else "@system-ca"
            target = r.targets[0].service if r.targets else r.name
            line += f" ssl verifyhost {target}.{r.namespace}.svc verify required ca-file {ca}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def render_global(settings: RouterSettings) -> str:
    run = settings.run_dir
    return f"""global
  maxconn {settings.max_connections}
  stats socket {run}/haproxy.sock mode 600 level admin expose-fd listeners
  ssl-default-bind-options ssl-min-ver TLSv1.2
  tune.ssl.default-dh-param 2048

defaults
  maxconn {settings.max_connections}
  timeout connect 5s
  timeout client {settings.timeout_client}
  timeout client-fin 1s
  timeout server {settings.timeout_server}
  timeout server-fin 1s
  timeout http-request 10s
  timeout http-keep-alive 300s
  timeout tunnel {settings.timeout_tunnel}

frontend public
  bind :{settings.http_port}
  mode http
  tcp-request inspect-delay 5s
  tcp-request content accept if HTTP
  acl secure_redirect base,map_reg({REDIRECT_MAP}) -m found
  redirect scheme https if secure_redirect
  use_backend %[base,map_reg({HTTP_MAP})]
  default_backend openshift_default

frontend public_ssl
  bind :{settings.https_port}
  mode tcp
  tcp-request inspect-delay 5s
  tcp-request content accept if {{ req_ssl_hello_type 1 }}
  acl sni_passthrough req.ssl_sni,lower,map_reg({TCP_MAP}) -m found
  use_backend %[req.ssl_sni,lower,map_reg({TCP_MAP})] if sni_passthrough
  default_backend be_sni

backend be_sni
  mode tcp
  server fe_sni unix@{run}/haproxy-sni.sock weight 1 send-proxy

frontend fe_sni
  bind unix@{run}/haproxy-sni.sock ssl crt {settings.default_certificate} crt-list {CERT_LIST} accept-proxy
  mode http
  http-request del-header Proxy
  use_backend %[base,map_reg({TLS_MAP})]
  default_backend openshift_default

backend openshift_default
  mode http
"""


def render_config(backends: list[Backend], settings: RouterSettings) -> dict[str, str]:
    """Every file of one configuration generation: name (relative) -> content."""
    routes = [b.route for b in backends]
    files = {CONFIG: render_global(settings) + "".join(
        "\n" + render_backend(b, settings) for b in sorted(backends, key=lambda b: b.route.key))}
    files.update(render_maps(routes))
    files.update({cert_file(r): r.certificate for r in routes if r.certificate})
    files.update({ca_file(r): r.destination_ca for r in routes if r.termination == "reencrypt" and r.destination_ca})
    return files
