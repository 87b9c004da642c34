"""The kernel against the model (DESIGN.md §5): `osdn adm verify` and online `osdn adm trace` on labs.

networkpolicy lab (3 nodes): a generated cluster (seeded, `OSDN_E2E_SEED` to vary it) of three
projects with team labels plus `default`, ten HTTP pods with random labels and named ports spread
over the nodes, every seed NetworkPolicy example (the two `002-template-*` ones instantiated by the
`project-request` Template when their project is created) and generated policies of every shape
(pod+namespace selectors with a named port, ipBlock with except and a port range, egress to
selectors and to an ipBlock, ingress+egress lockdown). `adm verify` must find zero disagreements over
a mix of allowed and denied pairs on every declared port, and over every service ClusterIP of three
generated Services (one endpoint on a named port, several endpoints, none: refused); a fault injected into one node's kernel
must show up as exactly the disagreements it causes; `adm trace` must show a blocked connection's
drop counter moving on the right node and an allowed one connecting.

multitenant lab (2 nodes): three projects, two of them joined; verify agrees, and trace shows
`drop_multitenant` moving for a blocked pair.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from labkit import Lab, make_lab, needs_agent

from osdn.kernel.nft import Nft
from osdn.lab.pods import pod_netns, wait_pod_ip

pytestmark = [pytest.mark.e2e, needs_agent]
SEEDS = "tests/fixtures/seeds"
SEED = int(os.environ.get("OSDN_E2E_SEED", "7"))
PROJECTS = ("red", "green", "blue")
ROLES = ("frontend", "backend", "database")
ROLE_PORTS = {"frontend": [("http", 80), ("https", 443)], "backend": [("alt", 8080)], "database": [("pg", 5432)]}
SEED_POLICIES = sorted(f for f in os.listdir(SEEDS) if f.startswith("002-networkpolicy-"))
TEMPLATE_POLICIES = sorted(f for f in os.listdir(SEEDS) if f.startswith("002-template-networkpolicy-"))
Obj = dict[str, Any]


def load(name: str) -> Obj:
    with open(f"{SEEDS}/{name}") as fh:
        return dict(yaml.safe_load(fh))


@dataclass
class World:
    pods: dict[str, Obj]  # ns/name -> Pod as the server has it
    policies: list[tuple[str, str]]  # (namespace, name) of every NetworkPolicy made
    verify: Obj  # `adm verify -o json` of the whole cluster
    verify_text: str

    def node_of(self, key: str) -> str:
        return str(self.pods[key]["spec"]["nodeName"])

    def results(self, port: int) -> list[Obj]:
        """Pod-to-pod probes on `port` between this test's pods (service probes are `service_results`;
        the lab's own router pod default/router is probed too, and left out here)."""
        return [r for r in self.verify["results"] if r["port"] == port and not r["to"].startswith("svc/")
                and r["from"] in self.pods and r["to"] in self.pods]

    def service_results(self) -> list[Obj]:
        return [r for r in self.verify["results"] if r["to"].startswith("svc/")]


# -- the generated networkpolicy cluster ------------------------------------------------------------

def pod_manifest(ns: str, name: str, node: str, labels: dict[str, str], ports: list[tuple[str, int]]) -> Obj:
    container = {"name": "web", "image": "python",
                 "ports": [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"nodeName": node, "containers": [container], "restartPolicy": "Never"}}


def generate_pods(rng: random.Random, nodes: list[str]) -> list[Obj]:
    """One pod per (project, role) plus default/fake-router: 10 pods, every node gets at least three.

    (`lab up` made the real router pod default/router.)"""
    spots = [nodes[i % len(nodes)] for i in range(len(PROJECTS) * len(ROLES) + 1)]
    rng.shuffle(spots)
    out = []
    for proj in PROJECTS:
        for role in ROLES:
            labels = {"role": role, "tier": rng.choice("ab"), "app": rng.choice(("shop", "bank"))}
            out.append(pod_manifest(proj, f"{role[:2]}-{rng.randrange(100, 999)}", spots.pop(), labels,
                                    ROLE_PORTS[role]))
    out.append(pod_manifest("default", "fake-router", spots.pop(), {"app": "router"}, [("http", 80)]))
    return out


def generate_policies(rng: random.Random, subnets: dict[str, str], pods: list[Obj]) -> list[Obj]:
    """One policy of each shape, with random selectors, placement and addresses."""
    node = rng.choice(sorted(subnets))
    on_node = [p for p in pods if p["spec"]["nodeName"] == node]
    hole = rng.choice(on_node)["status"]["podIP"]
    team, tier, role = rng.choice("xy"), rng.choice("ab"), rng.choice(ROLES)
    specs = {
        "gen-combined-named-port": {  # one peer with both selectors (AND), a named port
            "podSelector": {"matchLabels": {"role": "backend"}},
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": team}},
                                   "podSelector": {"matchLabels": {"tier": tier}}}],
                         "ports": [{"port": "alt"}]}]},
        "gen-ipblock-except-range": {  # a node's pod subnet minus one pod; a port and a port range
            "podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": [tier]}]},
            "ingress": [{"from": [{"ipBlock": {"cidr": subnets[node], "except": [f"{hole}/32"]}}],
                         "ports": [{"protocol": "TCP", "port": 80}, {"protocol": "TCP", "port": 5000, "endPort": 6000}]}]},
        "gen-egress-selectors": {  # egress to pods by label on two ports, and to other teams' namespaces
            "podSelector": {"matchLabels": {"app": rng.choice(("shop", "bank"))}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": {"matchLabels": {"role": role}}}], "ports": [{"port": 80}, {"port": 8080}]},
                       {"to": [{"namespaceSelector": {"matchExpressions": [
                           {"key": "team", "operator": "NotIn", "values": [team]}]}}]}]},
        "gen-lockdown": {  # ingress from any namespace on a named port; egress only to the cluster on 443
            "podSelector": {"matchLabels": {"tier": "a" if tier == "b" else "b", "role": rng.choice(ROLES)}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": "https"}, {"port": "pg"}]}],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.128.0.0/14"}}], "ports": [{"port": 443}]}]},
    }
    return [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": name, "namespace": rng.choice(PROJECTS)}, "spec": spec}
            for name, spec in specs.items()]


def generate_services(rng: random.Random) -> list[Obj]:
    """Services over the generated pods: one role's pods on its named port (one endpoint), one app's
    pods on port 80 (several endpoints, some may not listen there), one that selects nothing."""
    role = rng.choice(ROLES)
    specs = {"gen-svc-role": ({"role": role}, {"name": "web", "port": 80, "targetPort": ROLE_PORTS[role][0][0]}),
             "gen-svc-app": ({"app": rng.choice(("shop", "bank"))}, {"name": "web", "port": 8081, "targetPort": 80}),
             "gen-svc-empty": ({"role": "nobody"}, {"name": "web", "port": 80, "targetPort": 80})}
    return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": rng.choice(PROJECTS)},
             "spec": {"selector": selector, "ports": [port]}} for name, (selector, port) in specs.items()]


def create_projects(lab: Lab, rng: random.Random) -> str:
    """The three projects with team labels (both teams present); the project-request Template holds
    the seed's template policies while one of them is created. Returns that project."""
    c = lab.client
    teams = ["x", "y", rng.choice("xy")]
    rng.shuffle(teams)
    templated = rng.choice(PROJECTS)
    tpl = c.get("Template", "project-request", "default")
    original = list(tpl.get("objects") or [])
    tpl["objects"] = original + [load(f) for f in TEMPLATE_POLICIES]
    tpl = c.update(tpl, "default")
    try:
        c.create({"apiVersion": "project.openshift.io/v1", "kind": "Project",
                  "metadata": {"name": templated, "labels": {"team": teams[PROJECTS.index(templated)]}}})
    finally:
        tpl["objects"] = original
        c.update(tpl, "default")
    for proj, team in zip(PROJECTS, teams, strict=True):
        if proj != templated:
            c.create({"apiVersion": "project.openshift.io/v1", "kind": "Project",
                      "metadata": {"name": proj, "labels": {"team": team}}})
    ns = c.get("Namespace", "default")  # as an OpenShift admin does for the seed's allow-from-default-namespace
    ns["metadata"].setdefault("labels", {})["name"] = "default"
    c.update(ns)
    return templated


def create_pods(lab: Lab, manifests: list[Obj]) -> dict[str, Obj]:
    for m in manifests:
        lab.client.create(m, namespace=m["metadata"]["namespace"])
    out = {}
    for m in manifests:
        ns, name = m["metadata"]["namespace"], m["metadata"]["name"]
        wait_pod_ip(lab.client, ns, name, timeout=60)
        out[f"{ns}/{name}"] = lab.client.get("Pod", name, ns)
    return out


def run_verify(lab: Lab, *args: str) -> tuple[int, Obj, str]:
    done = lab.cli("adm", "verify", "-o", "json", *args, check=False)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("vfy", "networkpolicy", 3)


@pytest.fixture(scope="module")
def world(lab: Lab) -> World:
    rng = random.Random(SEED)
    print(f"\ngenerated cluster: OSDN_E2E_SEED={SEED}")
    templated = create_projects(lab, rng)
    subnets = {h["metadata"]["name"]: h["subnet"] for h in lab.client.list("HostSubnet")["items"]}
    pods = create_pods(lab, generate_pods(rng, sorted(subnets)))
    made = [(templated, load(f)["metadata"]["name"]) for f in TEMPLATE_POLICIES]
    for f in SEED_POLICIES:
        obj = load(f)
        taken = {ns for ns, name in made if name == obj["metadata"]["name"]}
        ns = rng.choice([p for p in PROJECTS if p not in taken])
        lab.client.create(obj, namespace=ns)
        made.append((ns, obj["metadata"]["name"]))
    for obj in generate_policies(rng, subnets, list(pods.values())):
        lab.client.create(obj)
        made.append((obj["metadata"]["namespace"], obj["metadata"]["name"]))
    for obj in generate_services(rng):
        lab.client.create(obj)
        print(f"  Service {obj['metadata']['namespace']}/{obj['metadata']['name']} {obj['spec']}")
    # a pod that can never run: no node matches its nodeSelector
    pending = pod_manifest("green", "nowhere", "", {"role": "frontend"}, [("http", 80)])
    del pending["spec"]["nodeName"]
    pending["spec"]["nodeSelector"] = {"osdn.io/no-such-node": "true"}
    lab.client.create(pending, namespace="green")
    for ns, name in made:
        print(f"  NetworkPolicy {ns}/{name}")
    rc, doc, err = run_verify(lab)
    text = lab.cli("adm", "verify", check=False).stdout
    print(text)
    return World(pods, made, doc, text)


def test_every_seed_policy_is_in_the_cluster(lab: Lab, world: World) -> None:
    names = {name for _, name in world.policies}
    for f in SEED_POLICIES + TEMPLATE_POLICIES:
        assert load(f)["metadata"]["name"] in names
    for ns, name in world.policies:  # the template ones were made by the server, not by the test
        assert lab.client.get("NetworkPolicy", name, ns)["metadata"]["name"] == name
    assert len(world.pods) == 10
    assert {p["spec"]["nodeName"] for p in world.pods.values()} == {"node1", "node2", "node3"}


def test_verify_finds_no_disagreement_over_a_mix_of_allowed_and_denied(world: World) -> None:
    doc = world.verify
    summary = doc["summary"]
    bad = [r for r in doc["results"] if not r["agrees"]]
    assert bad == [], json.dumps(bad, indent=1)
    assert summary["ok"] is True and summary["disagree"] == 0 and summary["failed"] == 0
    assert doc["ports"] == [80, 443, 5432, 8080]
    assert sum(len(world.results(port)) for port in doc["ports"]) == 10 * 9 * 4
    services = world.service_results()  # every pod to every service port (the DNS service too)
    # (gen-svc-app may have no single answer for some clients: those pairs are skipped, not probed)
    assert {r["to"].rsplit("/", 1)[1] for r in services} >= {"gen-svc-role", "gen-svc-empty", "dns-default"}
    assert any(r["kernel"]["outcome"] == "refused" and not r["model"]["allowed"] for r in services)  # no endpoints
    assert any(r["kernel"]["outcome"] == "connected" for r in services)
    for port in doc["ports"]:  # both kinds on every port, and refused (nothing listening) counted as reached
        kinds = {(r["model"]["allowed"], r["kernel"]["outcome"]) for r in world.results(port)}
        assert (True, "connected") in kinds and (False, "timeout") in kinds, (port, kinds)
    assert any(r["kernel"]["outcome"] == "refused" and r["model"]["allowed"] for r in doc["results"])
    assert {"pod": "green/nowhere", "why": "not running (phase Pending)"} in doc["skipped"]
    assert f"OK: the kernel agrees with the model on all {summary['probes']} probes" in world.verify_text


def test_verify_filters_by_namespace_and_selector(lab: Lab, world: World) -> None:
    rc, doc, _ = run_verify(lab, "-n", "default", "--port", "80")
    assert rc == 0 and doc["ports"] == [80]
    assert {(r["from"], r["to"]) for r in doc["results"]  # the lab's own router pod is in default too
            if not r["to"].startswith("svc/") and {r["from"], r["to"]} <= set(world.pods)} == \
        {(a, b) for a in world.pods for b in world.pods if a != b and "default/fake-router" in (a, b)}
    rc, doc, _ = run_verify(lab, "-l", "role=database", "--port", "5432")
    dbs = {k for k, p in world.pods.items() if p["metadata"]["labels"].get("role") == "database"}
    pod_probes = [r for r in doc["results"] if not r["to"].startswith("svc/") and {r["from"], r["to"]} <= set(world.pods)]
    assert rc == 0 and len(pod_probes) == sum(1 for a in world.pods for b in world.pods
                                              if a != b and (a in dbs or b in dbs))


def test_verify_reports_a_kernel_fault_as_exactly_the_disagreements_it_causes(lab: Lab, world: World) -> None:
    allowed_in = {}
    for r in world.results(80):
        if r["model"]["allowed"]:
            allowed_in.setdefault(r["to"], []).append(r["from"])
    victim = max(sorted(allowed_in), key=lambda k: len(allowed_in[k]))
    ip, node = world.pods[victim]["status"]["podIP"], world.node_of(victim)
    node_ns = lab.info.node(node).netns  # type: ignore[union-attr]
    with Nft(node_ns) as nft:  # a foreign table in the lab node: drops TCP/80 to the victim
        nft.run(f"table inet verifyfault {{\n chain f {{\n type filter hook forward priority -5\n"
                f" ip daddr {ip} tcp dport 80 drop\n }}\n}}\n")
        try:
            rc, doc, err = run_verify(lab, "--port", "80", "--settle", "0.5")
        finally:
            nft.delete_table("inet", "verifyfault")
    assert rc == 1
    # (a service whose endpoint is the victim on port 80 disagrees too: only pod probes are compared here)
    bad = sorted((r["from"], r["to"]) for r in doc["results"] if not r["agrees"] and not r["to"].startswith("svc/")
                 and r["from"] in world.pods)  # the lab's router pod (default/router) is cut off too
    assert bad == sorted((src, victim) for src in allowed_in[victim])
    assert all(r["model"]["allowed"] and r["kernel"]["outcome"] == "timeout" and r["kernel"]["retried"]
               for r in doc["results"] if not r["agrees"])  # service probes through the victim: also timeouts
    assert "probing them again" in err


def trace(lab: Lab, src: str, dst: str, port: int) -> Obj:
    done = lab.cli("adm", "trace", "--from", src, "--to", dst, "--port", str(port), "-o", "json")
    return dict(json.loads(done.stdout))


def parts(reason: str) -> tuple[str, str]:
    egress, _, ingress = reason.partition("; ingress: ")
    return egress, ingress


def test_trace_shows_the_drop_counter_of_a_blocked_connection(lab: Lab, world: World) -> None:
    denied = [r for r in world.results(80) if not r["model"]["allowed"]]
    by_ingress = [r for r in denied if not parts(r["model"]["reason"])[0].endswith("no rule allows it")]
    by_egress = [r for r in denied if parts(r["model"]["reason"])[0].endswith("no rule allows it")]
    assert by_ingress and by_egress, "the generated cluster denies both ways"
    for r, counter, node in ((by_ingress[0], "drop_np_ingress", world.node_of(by_ingress[0]["to"])),
                             (by_egress[0], "drop_np_egress", world.node_of(by_egress[0]["from"]))):
        doc = trace(lab, r["from"], r["to"], 80)
        kernel = doc["kernel"]
        assert doc["allowed"] is False and kernel["probed"] and kernel["outcome"] == "timeout"
        assert kernel["agrees"] is True
        moved = {(c["node"], c["name"]): c["delta"] for c in kernel["counters"]}
        assert moved.get((node, counter), 0) >= 1, (r, kernel)
    text = lab.cli("adm", "trace", "--from", by_ingress[0]["from"], "--to", by_ingress[0]["to"]).stdout
    assert "blocked (no answer)" in text and "drop_np_ingress on" in text and "AGREES with the model (DENIED)" in text


def test_trace_shows_an_allowed_connection_connecting(lab: Lab, world: World) -> None:
    listening = {k for k, p in world.pods.items() if p["metadata"]["labels"].get("role") in ("frontend", None)}
    r = next(r for r in world.results(80) if r["model"]["allowed"] and r["to"] in listening)
    doc = trace(lab, r["from"], r["to"], 80)
    assert doc["allowed"] is True and doc["kernel"]["outcome"] == "connected" and doc["kernel"]["agrees"] is True
    text = lab.cli("adm", "trace", "--from", r["from"], "--to", r["to"]).stdout
    assert "connected" in text and "AGREES with the model (ALLOWED)" in text
    quiet = lab.cli("adm", "trace", "--from", r["from"], "--to", r["to"], "--no-probe").stdout
    assert "kernel" not in quiet and quiet.startswith(f"pod {r['from']}")


def test_trace_from_a_pods_own_node_connects_even_when_its_policies_deny_other_pods(lab: Lab, world: World) -> None:
    """The resident node is never policed (upstream semantics); the model said otherwise until
    this trace disagreed with it."""
    denied_to = {r["to"] for r in world.verify["results"] if not r["model"]["allowed"]}
    key = sorted(denied_to)[0]
    pod = world.pods[key]
    port = pod["spec"]["containers"][0]["ports"][0]["containerPort"]
    doc = trace(lab, f"node/{pod['spec']['nodeName']}", key, port)
    assert doc["allowed"] is True, doc["steps"]
    assert doc["kernel"]["probed"] and doc["kernel"]["outcome"] == "connected" and doc["kernel"]["agrees"] is True


def test_trace_says_when_there_is_no_kernel_view(lab: Lab, world: World) -> None:
    out = lab.cli("adm", "trace", "--from", "green/nowhere", "--to", "default/fake-router").stdout
    assert "kernel: not probed (pod green/nowhere has no lab.osdn.io/netns annotation" in out
    udp = lab.cli("adm", "trace", "--from", "default/fake-router", "--to", "default/fake-router",
                  "--protocol", "UDP").stdout
    assert "kernel: not probed (probes are TCP only" in udp
    assert lab.cli("adm", "verify", "--protocol", "UDP", check=False).returncode == 2


# -- multitenant ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mt_lab() -> Iterator[Lab]:
    yield from make_lab("vmt", "multitenant", 2)


def test_multitenant_verify_and_trace(mt_lab: Lab) -> None:
    spots = {"ma": ("node1", "node2"), "mb": ("node2", "node1"), "mc": ("node1", "node2")}
    pods = {f"{proj}/{proj}{i}": mt_lab.pod(f"{proj}{i}", proj, node) for proj, nodes in spots.items()
            for i, node in enumerate(nodes, 1)}
    mt_lab.cli("adm", "pod-network", "join-projects", "--to", "ma", "mb")
    rc, doc, _ = run_verify(mt_lab, "--port", "80")
    assert [r for r in doc["results"] if not r["agrees"]] == [] and rc == 0
    allowed = {(r["from"], r["to"]) for r in doc["results"] if r["model"]["allowed"]}
    assert ("ma/ma1", "mb/mb1") in allowed and ("mb/mb2", "ma/ma2") in allowed
    assert ("mc/mc1", "ma/ma1") not in allowed and doc["summary"]["denied"] == 16
    kernel = trace(mt_lab, "mc/mc1", "ma/ma2", 80)["kernel"]  # mc1 on node1, ma2 on node2
    assert kernel["outcome"] == "timeout" and kernel["agrees"] is True
    assert any(c["name"] == "drop_multitenant" and c["delta"] >= 1 for c in kernel["counters"]), kernel
    assert len(pods) == 6 and pod_netns(mt_lab.client.get("Pod", "mc1", "mc"))
