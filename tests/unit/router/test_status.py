"""status.ingress entries, Ingress conversion, and a refused configuration's route condition."""

from __future__ import annotations

from osdn.router.admission import Verdict
from osdn.router.ingress import ingress_routes
from osdn.router.plan import CONFIG_REJECTED, Snapshot, compute_plan
from osdn.router.render import RouterSettings
from osdn.router.status import compute_status
from tests.unit.router.router_builders import endpoints, route

NOW, LATER = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"
SETTINGS = RouterSettings(run_dir="/run/r", default_certificate="/run/r/default.pem")


def test_admitted_entry_and_no_rewrite_when_unchanged() -> None:
    r = route("a", "a.x.com")
    status = compute_status(r, "default", Verdict(True), NOW)
    assert status == {"ingress": [{"host": "a.x.com", "routerName": "default", "wildcardPolicy": "None",
                                   "conditions": [{"type": "Admitted", "status": "True", "lastTransitionTime": NOW}]}]}
    assert compute_status({**r, "status": status}, "default", Verdict(True), LATER) is None


def test_rejection_reason_and_transition_time() -> None:
    r = route("a", "a.x.com")
    admitted = {**r, "status": compute_status(r, "default", Verdict(True), NOW)}
    rejected = compute_status(admitted, "default", Verdict(False, "HostAlreadyClaimed", "m"), LATER)
    assert rejected is not None
    assert rejected["ingress"][0]["conditions"] == [{"type": "Admitted", "status": "False", "reason": "HostAlreadyClaimed",
                                                     "message": "m", "lastTransitionTime": LATER}]


def test_other_routers_entries_are_kept() -> None:
    other = {"host": "a.x.com", "routerName": "sharded", "conditions": []}
    r = {**route("a", "a.x.com"), "status": {"ingress": [other]}}
    status = compute_status(r, "default", Verdict(True), NOW)
    assert status is not None and status["ingress"][0] == other and len(status["ingress"]) == 2


def test_ingress_becomes_routes_and_claims_by_its_age() -> None:
    ing = {"metadata": {"name": "shop", "namespace": "p2", "creationTimestamp": "2025-01-01T00:00:00Z", "uid": "i"},
           "spec": {"tls": [{"hosts": ["h.x.com"]}],
                    "rules": [{"host": "h.x.com", "http": {"paths": [
                        {"path": "/", "backend": {"service": {"name": "web", "port": {"number": 8080}}}},
                        {"path": "/api", "backend": {"service": {"name": "api", "port": {"name": "http"}}}}]}}]}}
    made = ingress_routes(ing)
    assert [(m["spec"].get("path"), m["spec"]["to"]["name"], m["spec"]["port"]["targetPort"], m["spec"]["tls"]["termination"])
            for m in made] == [(None, "web", 8080, "edge"), ("/api", "api", "http", "edge")]
    newer_route = route("a", "h.x.com", created="01")  # 2026: younger than the Ingress
    snap = Snapshot({("p1", "a"): newer_route}, {("p2", "shop"): ing}, {},
                    {("p2", "web"): endpoints("web", ["10.0.0.2"], [{"port": 8080}], ns="p2")})
    plan = compute_plan(snap, SETTINGS)
    assert plan.verdicts[("p1", "a")].reason == "HostAlreadyClaimed"
    assert "10.0.0.2:8080" in plan.files["haproxy.cfg"]


def test_refused_route_left_out_with_condition() -> None:
    snap = Snapshot({("p1", "a"): route("a", "a.x.com"), ("p1", "b"): route("b", "b.x.com")}, {}, {}, {})
    plan = compute_plan(snap, SETTINGS, rejected={("p1", "b"): "bad certificate"})
    assert plan.verdicts[("p1", "b")] == Verdict(False, CONFIG_REJECTED, "bad certificate")
    assert "be_http:p1:b" not in plan.files["haproxy.cfg"] and plan.served == (("p1", "a"),)


def test_culprits_named_by_haproxy_output() -> None:
    from osdn.router.controller import culprits
    out = ("[ALERT] config : parsing [haproxy.cfg:40] : 'bind unix@x' in section 'frontend' : unable to load "
           "certificate from file 'certs/shop:bad-cert.pem'.\n[ALERT] backend 'be_secure:p-2:api.v1' has no server")
    assert culprits(out) == {("shop", "bad-cert"), ("p-2", "api.v1")}
    assert culprits("[ALERT] Fatal errors found in configuration.") == set()
