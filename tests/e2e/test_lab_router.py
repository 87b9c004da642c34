"""The router in a real lab: HAProxy in the `router` pod of project default, reached from outside.

A 2-node networkpolicy lab (and a 1-node multitenant one): an internet client on the lab's outside
network (curl in the outside `web` host) reaches routes at node1's address (the router pod's
hostPorts 80/443): plain HTTP; edge with the seed's HSTS header (exact), without it, with a value
the router ignores; reencrypt (verified against destinationCACertificate) with HSTS; passthrough
(the pod's own certificate, no HSTS); Redirect/Allow/None for HTTP on edge routes; host collision
(the older route keeps the host, the newer one's status says HostAlreadyClaimed); NetworkPolicy
(deny-by-default cuts the router off until the seed's allow-from-default-namespace) and
multitenant isolation (the default project reaches every project); a long download through the
router survives reloads caused by endpoint changes. Run alone: `pytest tests/e2e/test_lab_router.py`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from labkit import Lab, make_lab, needs_agent
from routerkit import (
    curl,
    header,
    make_ca_and_cert,
    outside_netns,
    slow_pod_command,
    status_line,
    tls_pod_command,
)

from tests.conftest import wait_for

pytestmark = [pytest.mark.e2e, needs_agent]
SEEDS = Path(__file__).parents[1] / "fixtures" / "seeds"
HSTS = "haproxy.router.openshift.io/hsts_header"
SEED_HSTS = "max-age=31536000;includeSubDomains;preload"
Obj = dict[str, Any]


def router_running(lab: Lab) -> bool:
    pod = lab.client.get("Pod", "router", "default")
    return (pod.get("status") or {}).get("phase") == "Running"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    for lab in make_lab("rtr", "networkpolicy", 2):
        wait_for(lambda lab=lab: router_running(lab), 90, "the router pod")
        yield lab


@pytest.fixture(scope="module")
def outside(lab: Lab) -> str:
    return outside_netns(lab.info.name, len(lab.info.nodes))


def service(lab: Lab, ns: str, name: str, selector: dict[str, str], port: int, target: int) -> None:
    lab.client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                       "spec": {"selector": selector, "ports": [{"name": "p", "port": port, "targetPort": target}]}}, ns)


def route(lab: Lab, ns: str, name: str, host: str, to: str, tls: Obj | None = None,
          annotations: dict[str, str] | None = None) -> Obj:
    spec: Obj = {"host": host, "to": {"kind": "Service", "name": to}}
    if tls is not None:
        spec["tls"] = tls
    return lab.client.create({"apiVersion": "route.openshift.io/v1", "kind": "Route",
                              "metadata": {"name": name, "annotations": annotations or {}}, "spec": spec}, ns)


def admitted(lab: Lab, ns: str, name: str) -> Obj | None:
    ingress = (lab.client.get("Route", name, ns).get("status") or {}).get("ingress") or []
    return next((c for e in ingress for c in e.get("conditions") or [] if c.get("type") == "Admitted"), None)


def served(outside: str, url: str, host: str, want: str, *extra: str) -> Any:
    """Wait until the route answers with status `want` (the router reloads after its batch interval)."""
    return wait_for(lambda: (lambda d: d if want in status_line(d) else None)(curl(outside, url, host, *extra)),
                    30, f"{url} ({host}) to answer {want}")


@pytest.fixture(scope="module")
def shop(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Project shop: an HTTP pod `web` (service web:80 -> 8080) and a TLS pod `tls` (service tls:443 -> 8443)."""
    lab.cli("new-project", "shop")
    certs = make_ca_and_cert(tmp_path_factory.mktemp("tls"), "shop-ca", ["tls.shop.svc", "tls"])
    lab.pod("web", "shop", "node2", {"app": "web"}, [8080])
    lab.pod("tls", "shop", "node1", {"app": "tls"}, [8443], tls_pod_command(certs, 8443, "shop/tls"))
    service(lab, "shop", "web", {"app": "web"}, 80, 8080)
    service(lab, "shop", "tls", {"app": "tls"}, 443, 8443)
    return certs


def test_http_route(lab: Lab, outside: str, shop: dict[str, Path]) -> None:
    route(lab, "shop", "plain", "plain.example.com", "web")
    done = served(outside, "http://plain.example.com/", "plain.example.com", "200")
    assert "shop/web" in done.stdout and header(done, "Strict-Transport-Security") is None
    assert wait_for(lambda: admitted(lab, "shop", "plain"), 10, "status")["status"] == "True"
    # the CLI path a user takes: osdn lab outside -- curl
    out = lab.cli("lab", "outside", "run", "--name", lab.info.name, "--dir", lab.info.dir, "--",
                  "curl", "-s", "--resolve", "plain.example.com:80:198.18.0.11", "http://plain.example.com/")
    assert "shop/web on port 8080" in out.stdout


@pytest.mark.parametrize(("name", "annotation", "expected"), [
    ("seed", SEED_HSTS, SEED_HSTS),
    ("quoted", 'max-age  =  "99999"', 'max-age  =  "99999"'),
    ("none", None, None),
    ("invalid", "max-age=1;foo", None),
], ids=["seed-annotation", "quoted-spaced", "no-annotation", "ignored-value"])
def test_edge_route_hsts(lab: Lab, outside: str, shop: dict[str, Path], name: str, annotation: str | None,
                         expected: str | None) -> None:
    host = f"edge-{name}.example.com"
    route(lab, "shop", f"edge-{name}", host, "web", {"termination": "edge"}, {HSTS: annotation} if annotation else None)
    done = served(outside, f"https://{host}/", host, "200", "-k")
    assert "shop/web" in done.stdout
    assert header(done, "Strict-Transport-Security") == expected
    # TLS ended at the router with its default certificate
    cert = curl(outside, f"https://{host}/", host, "-k", "-v")
    assert "router-default" in cert.stderr


def test_reencrypt_route_with_hsts(lab: Lab, outside: str, shop: dict[str, Path]) -> None:
    route(lab, "shop", "reenc", "reenc.example.com", "tls",
          {"termination": "reencrypt", "destinationCACertificate": shop["ca.crt"].read_text()}, {HSTS: SEED_HSTS})
    done = served(outside, "https://reenc.example.com/", "reenc.example.com", "200", "-k")
    assert "tls pod shop/tls" in done.stdout
    assert header(done, "Strict-Transport-Security") == SEED_HSTS


def test_reencrypt_without_the_right_ca_is_refused_by_the_router(lab: Lab, outside: str, shop: dict[str, Path]) -> None:
    other = make_ca_and_cert(shop["ca.crt"].parent / "other", "other-ca", ["tls.shop.svc"])
    route(lab, "shop", "reenc-bad", "reenc-bad.example.com", "tls",
          {"termination": "reencrypt", "destinationCACertificate": other["ca.crt"].read_text()})
    wait_for(lambda: admitted(lab, "shop", "reenc-bad"), 15, "status")
    done = served(outside, "https://reenc-bad.example.com/", "reenc-bad.example.com", "503", "-k")
    assert "tls pod" not in done.stdout


def test_passthrough_route_shows_the_pods_certificate_and_no_hsts(lab: Lab, outside: str,
                                                                   shop: dict[str, Path]) -> None:
    route(lab, "shop", "pass", "pass.example.com", "tls", {"termination": "passthrough"}, {HSTS: SEED_HSTS})
    done = served(outside, "https://pass.example.com/", "pass.example.com", "200", "-k", "-v")
    assert "tls pod shop/tls" in done.stdout
    assert "CN=tls.shop.svc" in done.stderr and "shop-ca" in done.stderr
    assert header(done, "Strict-Transport-Security") is None


@pytest.mark.parametrize(("policy", "want"), [("Redirect", "302"), ("Allow", "200"), ("None", "503")])
def test_insecure_edge_termination_policy(lab: Lab, outside: str, shop: dict[str, Path], policy: str,
                                          want: str) -> None:
    host = f"insecure-{policy.lower()}.example.com"
    route(lab, "shop", f"insecure-{policy.lower()}", host, "web",
          {"termination": "edge", "insecureEdgeTerminationPolicy": policy})
    served(outside, f"https://{host}/", host, "200", "-k")  # the route is live
    done = curl(outside, f"http://{host}/path?q=1", host)
    assert want in status_line(done), done.stdout
    if policy == "Redirect":
        assert header(done, "Location") == f"https://{host}/path?q=1"
    if policy == "Allow":
        assert "shop/web" in done.stdout


def test_host_collision_older_route_keeps_the_host(lab: Lab, outside: str, shop: dict[str, Path]) -> None:
    lab.cli("new-project", "rival")
    lab.pod("rweb", "rival", "node1", {"app": "rweb"}, [8080])
    service(lab, "rival", "rweb", {"app": "rweb"}, 80, 8080)
    route(lab, "shop", "older", "older.example.com", "web")
    time.sleep(1.1)  # creationTimestamp has one-second resolution
    route(lab, "rival", "newer", "contested.example.com", "rweb")
    assert "rival/rweb" in served(outside, "http://contested.example.com/", "contested.example.com", "200").stdout
    # the seed: an older route that changes its host (cluster admin) hijacks the newer route's host
    lab.cli("patch", "route", "older", "-n", "shop", "--type=merge", "-p",
            '{"spec": {"host": "contested.example.com"}}')
    cond = wait_for(lambda: (lambda c: c if c and c["status"] == "False" else None)(admitted(lab, "rival", "newer")),
                    20, "the newer route's rejection")
    assert cond["reason"] == "HostAlreadyClaimed"
    assert cond["message"] == "a route in another namespace holds host contested.example.com"
    assert admitted(lab, "shop", "older")["status"] == "True"
    wait_for(lambda: "shop/web" in curl(outside, "http://contested.example.com/", "contested.example.com").stdout,
             20, "the older route to serve the host")


def _apply_seed(lab: Lab, name: str, ns: str) -> None:
    lab.cli("create", "-n", ns, "-f", str(SEEDS / name))


def test_networkpolicy_needs_allow_from_default_namespace(lab: Lab, outside: str, shop: dict[str, Path]) -> None:
    lab.cli("new-project", "locked")
    lab.pod("lweb", "locked", "node2", {"app": "lweb"}, [8080])
    service(lab, "locked", "lweb", {"app": "lweb"}, 80, 8080)
    route(lab, "locked", "locked", "locked.example.com", "lweb")
    served(outside, "http://locked.example.com/", "locked.example.com", "200")
    _apply_seed(lab, "002-networkpolicy-deny-by-default.yaml", "locked")
    cut = wait_for(lambda: (lambda d: d if "locked/lweb" not in d.stdout else None)(
        curl(outside, "http://locked.example.com/", "locked.example.com", timeout=8)), 30, "the router to be cut off")
    assert "200" not in status_line(cut)  # 503 once HAProxy gives up connecting, or the client's timeout
    lab.cli("label", "namespace", "default", "name=default", "--overwrite")
    _apply_seed(lab, "002-networkpolicy-allow-from-default-namespace.yaml", "locked")
    assert "locked/lweb" in served(outside, "http://locked.example.com/", "locked.example.com", "200").stdout


def test_download_survives_reloads(lab: Lab, outside: str, shop: dict[str, Path]) -> None:
    size = 24 * 1024 * 1024
    lab.cli("new-project", "dl")
    lab.pod("slow1", "dl", "node2", {"app": "slow"}, [8080], slow_pod_command(8080, size, 20.0))
    service(lab, "dl", "slow", {"app": "slow"}, 80, 8080)
    route(lab, "dl", "slow", "slow.example.com", "slow")
    served(outside, "http://slow.example.com/", "slow.example.com", "200")
    log = Path(lab.info.dir) / "routers" / "default_router" / "haproxy.log"
    reloads_before = _reloads(lab)
    from osdn.kernel import netns
    download = netns.spawn_in_netns(outside, ["curl", "-s", "-S", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                                              "-m", "60", "--resolve", "slow.example.com:80:198.18.0.11",
                                              "http://slow.example.com/big"], stdout=-1, stderr=-1, text=True)
    try:
        for i in range(2, 4):  # endpoints change: pods join the service, each a reload
            lab.pod(f"slow{i}", "dl", "node1", {"app": "slow"}, [8080], slow_pod_command(8080, size, 20.0))
            wait_for(lambda n=i: _reloads(lab) >= reloads_before + n - 1, 20, f"reload {i - 1}")
        assert download.poll() is None, "the download ended before the reloads: the test proves nothing"
        out, err = download.communicate(timeout=70)
    finally:
        if download.poll() is None:
            download.kill()
    assert out.split() == ["200", str(size)], (out, err, log.read_text()[-2000:] if log.exists() else "")
    assert download.returncode == 0


def _reloads(lab: Lab) -> int:
    text = (Path(lab.info.dir) / "pods" / "default_router.log").read_text()
    return len(re.findall(r"configuration reloaded", text))


# ---- multitenant: the default project reaches every project --------------------------------------

@pytest.fixture(scope="module")
def mt_lab() -> Iterator[Lab]:
    for lab in make_lab("rtm", "multitenant", 1):
        wait_for(lambda lab=lab: router_running(lab), 90, "the router pod")
        yield lab


def test_multitenant_router_reaches_isolated_projects(mt_lab: Lab) -> None:
    outside = outside_netns(mt_lab.info.name, len(mt_lab.info.nodes))
    mt_lab.cli("new-project", "tenant")
    mt_lab.pod("tweb", "tenant", "node1", {"app": "tweb"}, [8080])
    service(mt_lab, "tenant", "tweb", {"app": "tweb"}, 80, 8080)
    route(mt_lab, "tenant", "tweb", "tenant.example.com", "tweb")
    assert "tenant/tweb" in served(outside, "http://tenant.example.com/", "tenant.example.com", "200").stdout
    netids = yaml.safe_load(mt_lab.cli("get", "netnamespaces", "-o", "yaml").stdout)["items"]
    by_name = {n["metadata"]["name"]: n["netid"] for n in netids}
    assert by_name["default"] == 0 and by_name["tenant"] != 0


def test_a_configuration_haproxy_refuses_never_goes_live(lab: Lab, outside: str, shop: dict[str, Path]) -> None:
    garbage = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    route(lab, "shop", "badcert", "badcert.example.com", "web",
          {"termination": "edge", "certificate": garbage, "key": garbage.replace("CERTIFICATE", "PRIVATE KEY")})
    cond = wait_for(lambda: (lambda c: c if c and c["status"] == "False" else None)(admitted(lab, "shop", "badcert")),
                    20, "the refused route's condition")
    assert cond["reason"] == "ConfigurationRejected" and "HAProxy refused" in cond["message"]
    log = (Path(lab.info.dir) / "pods" / "default_router.log").read_text()
    assert "HAProxy refused the new configuration (shop/badcert)" in log
    # everything else is still served, and later changes still go live
    assert "shop/web" in served(outside, "http://plain.example.com/", "plain.example.com", "200").stdout
    route(lab, "shop", "after", "after.example.com", "web")
    assert "shop/web" in served(outside, "http://after.example.com/", "after.example.com", "200").stdout
    lab.client.delete("Route", "badcert", "shop")


def test_ingress_is_served_as_routes(lab: Lab, outside: str, shop: dict[str, Path]) -> None:
    lab.client.create({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "shop-ing"},
                       "spec": {"tls": [{"hosts": ["ing.example.com"]}],
                                "rules": [{"host": "ing.example.com", "http": {"paths": [
                                    {"path": "/", "pathType": "Prefix",
                                     "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}, "shop")
    done = served(outside, "https://ing.example.com/", "ing.example.com", "200", "-k")
    assert "shop/web" in done.stdout
    assert "302" in status_line(curl(outside, "http://ing.example.com/", "ing.example.com"))  # TLS host: Redirect


def test_router_runs_with_its_own_least_privilege_identity(lab: Lab, shop: dict[str, Path]) -> None:
    from labkit import osdn
    conf = Path(lab.info.dir) / "routers" / "router.conf"
    assert conf.stat().st_mode & 0o077 == 0
    assert f"--config {conf} router" in " ".join((p / "cmdline").read_bytes().decode().replace("\0", " ")
                                                  for p in _router_pids())
    assert osdn("--config", str(conf), "get", "routes", "-A").returncode == 0
    for denied in (["get", "configmaps", "-n", "shop"], ["delete", "route", "plain", "-n", "shop"],
                   ["get", "pods", "-n", "default"]):
        done = osdn("--config", str(conf), *denied, check=False)
        assert done.returncode != 0 and "forbidden" in done.stderr.lower(), (denied, done.stderr)


def _router_pids() -> list[Path]:
    return [p for p in Path("/proc").iterdir() if p.name.isdigit() and _is_router(p)]


def _is_router(proc: Path) -> bool:
    try:
        return b"\0router\0--netns" in (proc / "cmdline").read_bytes()
    except OSError:
        return False
