"""The incremental compiler equals a full recompute (`compile_intent`) after any sequence of events.

Hypothesis drives random event sequences over a small world (so collisions are frequent: pods sharing
an IP, namespaces appearing through a pod before their Namespace, labels flipping under selectors,
ipBlock / namespaceSelector / named-port policies, malformed policies, mode changes, local
attachments coming and going) and checks, after every event, that the incremental intent is the
full one; and that unchanged input recompiles nothing.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osdn.node import incremental
from osdn.node.compile import LocalAttachment, NodeFacts, compile_intent
from osdn.node.incremental import IncrementalCompiler, object_key

Obj = dict[str, Any]
NAMESPACES = ("a", "b", "c", "default")
IPS = tuple(f"10.128.0.{i}" for i in range(2, 8)) + ("10.128.2.2", "10.128.2.3")
LABELS = st.dictionaries(st.sampled_from(["app", "role"]), st.sampled_from(["x", "y"]), max_size=2)


def cn(mode: str) -> Obj:
    return {"kind": "ClusterNetwork", "metadata": {"name": "default"}, "pluginName": f"redhat/openshift-ovs-{mode}",
            "clusterNetworks": [{"CIDR": "10.128.0.0/14", "hostSubnetLength": 9}], "serviceNetwork": "172.30.0.0/16"}


HOST_SUBNETS = [{"kind": "HostSubnet", "metadata": {"name": n}, "host": n, "hostIP": ip, "subnet": sn}
                for n, ip, sn in (("n1", "198.18.0.11", "10.128.0.0/23"), ("n2", "198.18.0.12", "10.128.2.0/23"))]


@st.composite
def pods(draw: st.DrawFn) -> Obj:
    ports = [{"name": draw(st.sampled_from(["http", "dns"])), "containerPort": draw(st.sampled_from([80, 8080]))}]
    status = {"podIP": draw(st.sampled_from(IPS))}
    return {"kind": "Pod", "metadata": {"name": draw(st.sampled_from(["p", "q", "r"])),
                                        "namespace": draw(st.sampled_from(NAMESPACES)), "labels": draw(LABELS)},
            "spec": {"nodeName": draw(st.sampled_from(["n1", "n2"])), "hostNetwork": draw(st.booleans()),
                     "containers": [{"name": "c", "image": "x", "ports": ports}]},
            "status": status if draw(st.integers(0, 4)) else {}}


@st.composite
def peers(draw: st.DrawFn) -> Obj:
    kind = draw(st.sampled_from(["pod", "ns", "both", "block", "bad"]))
    sel = {"matchLabels": draw(LABELS)}
    if kind == "pod":
        return {"podSelector": sel}
    if kind == "ns":
        return {"namespaceSelector": {"matchLabels": draw(st.dictionaries(st.just("team"), st.sampled_from("12")))}}
    if kind == "both":
        return {"podSelector": sel, "namespaceSelector": {}}
    if kind == "block":
        return {"ipBlock": {"cidr": "10.128.0.0/23", "except": [draw(st.sampled_from(IPS)) + "/32"]}}
    return {"namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "Bogus"}]}}


@st.composite
def policies(draw: st.DrawFn) -> Obj:
    def rule(key: str) -> Obj:
        ports = draw(st.lists(st.sampled_from([{"port": 80}, {"port": "http"}, {"port": "dns", "protocol": "UDP"},
                                               {"protocol": "TCP"}]), max_size=2))
        out: Obj = {key: draw(st.lists(peers(), max_size=2))}
        if ports:
            out["ports"] = ports
        return out

    spec: Obj = {"podSelector": {"matchLabels": draw(LABELS)},
                 "ingress": [rule("from") for _ in range(draw(st.integers(0, 2)))],
                 "egress": [rule("to") for _ in range(draw(st.integers(0, 2)))]}
    if draw(st.booleans()):
        spec["policyTypes"] = draw(st.sampled_from([["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    if draw(st.integers(0, 9)) == 0:
        spec["ingress"] = "not a list"  # malformed, as an old store could hold
    return {"kind": "NetworkPolicy", "metadata": {"name": draw(st.sampled_from(["np1", "np2"])),
                                                  "namespace": draw(st.sampled_from(NAMESPACES))}, "spec": spec}


@st.composite
def namespaces(draw: st.DrawFn) -> Obj:
    name = draw(st.sampled_from(NAMESPACES))
    if draw(st.booleans()):
        return {"kind": "NetNamespace", "metadata": {"name": name}, "netname": name,
                "netid": draw(st.sampled_from([0, 20, 21]))}
    return {"kind": "Namespace", "metadata": {"name": name, "labels": draw(st.dictionaries(
        st.just("team"), st.sampled_from("12")))}}


@st.composite
def services(draw: st.DrawFn) -> Obj:
    meta = {"name": draw(st.sampled_from(["s1", "s2"])), "namespace": draw(st.sampled_from(NAMESPACES))}
    if draw(st.booleans()):
        target = draw(st.sampled_from([8080, "http"]))
        spec: Obj = {"clusterIP": draw(st.sampled_from(["172.30.0.5", "172.30.0.6", "None"])),
                     "ports": [{"name": "web", "port": 80, "targetPort": target}]}
        if draw(st.booleans()):
            spec["selector"] = draw(LABELS)
        if draw(st.booleans()):  # shared by services, or another's ClusterIP: one owner per address
            spec["externalIPs"] = draw(st.lists(st.sampled_from(["192.0.2.1", "192.0.2.2", "172.30.0.5"]), max_size=2))
        return {"kind": "Service", "metadata": meta, "spec": spec}
    if draw(st.booleans()):  # read only for a service without slices
        return {"kind": "Endpoints", "metadata": meta,
                "subsets": [{"addresses": [{"ip": ip} for ip in draw(st.lists(st.sampled_from(IPS), max_size=2))],
                             "ports": [{"name": "web", "port": 8080}]}]}
    return draw(endpoint_slices(meta))


@st.composite
def endpoint_slices(draw: st.DrawFn, meta: Obj) -> Obj:
    """A slice of service `meta` (two per service, so an endpoint can be in both; it can also move
    to the other service), with random conditions."""
    conditions = st.fixed_dictionaries({}, optional={"ready": st.booleans(), "serving": st.booleans(),
                                                     "terminating": st.booleans()})
    endpoints = st.lists(st.fixed_dictionaries({"addresses": st.sampled_from(IPS).map(lambda ip: [ip]),
                                                "conditions": conditions}), max_size=3)
    owner = draw(st.sampled_from(["s1", "s2"]))
    return {"kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": f"{meta['name']}-{draw(st.sampled_from('ab'))}", "namespace": meta["namespace"],
                         "labels": {"kubernetes.io/service-name": owner}},
            "ports": [{"name": "web", "port": draw(st.sampled_from([8080, 8081])), "protocol": "TCP"}],
            "endpoints": draw(endpoints)}


@st.composite
def egress_firewalls(draw: st.DrawFn) -> Obj:
    to = draw(st.sampled_from([{"cidrSelector": "203.0.113.0/24"}, {"dnsName": "web.ext.test"}]))
    ann = {"network.osdn.io/dns-resolved": '{"web.ext.test": ["203.0.113.80"]}'} if draw(st.booleans()) else {}
    return {"kind": "EgressNetworkPolicy", "metadata": {"name": draw(st.sampled_from(["default", "second"])),
                                                        "namespace": draw(st.sampled_from(NAMESPACES)),
                                                        "annotations": ann},
            "spec": {"egress": [{"type": draw(st.sampled_from(["Allow", "Deny"])), "to": to}]}}


EVENT = st.tuples(st.sampled_from(["put", "put", "put", "delete"]),
                  st.one_of(pods(), pods(), policies(), namespaces(), services(), egress_firewalls(), st.sampled_from([cn("multitenant"),
                                                                                      cn("networkpolicy"),
                                                                                      cn("subnet")])))
ATTACHMENTS = st.lists(st.tuples(st.sampled_from(NAMESPACES), st.sampled_from(["p", "l"]), st.sampled_from(IPS[:4])),
                       max_size=2, unique_by=lambda t: t[2])


def facts_of(atts: list[tuple[str, str, str]]) -> NodeFacts:
    return NodeFacts("n1", "198.18.0.11", tuple(LocalAttachment(ns, name, ip, "0a:58:0a:80:00:02", f"osdnp{ip[-1]}")
                                                for ns, name, ip in atts), uplinks=("osdnvx0",))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mode=st.sampled_from(["multitenant", "networkpolicy", "subnet"]),
       events=st.lists(st.tuples(EVENT, ATTACHMENTS, st.integers(0, 3)), min_size=1, max_size=25))
def test_incremental_equals_full_recompute(mode: str, events: list[tuple[tuple[str, Obj], Any, int]]) -> None:
    """After every event, or (as the agent feeds a sync) after a batch of events: compile equals the full one."""
    world: dict[tuple[str, str, str], Obj] = {}
    inc = IncrementalCompiler()
    for obj in [cn(mode), *HOST_SUBNETS]:
        world[object_key(obj["kind"], obj)] = obj
        inc.update(obj["kind"], object_key(obj["kind"], obj)[1:], obj)
    for rv, ((op, obj), atts, batch) in enumerate(events):
        obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(rv)}}
        key = object_key(obj["kind"], obj)
        if op == "delete" and obj["kind"] != "ClusterNetwork":
            world.pop(key, None)
            inc.update(obj["kind"], key[1:], None)
        else:
            world[key] = obj
            inc.update(obj["kind"], key[1:], obj)
        facts = facts_of(atts)
        if batch or rv == len(events) - 1:  # 0: the next event comes in the same batch
            assert inc.compile(facts) == compile_intent(list(world.values()), facts)


@settings(max_examples=40, deadline=None)
@given(objs=st.lists(st.one_of(pods(), policies(), namespaces()), max_size=12), atts=ATTACHMENTS)
def test_resync_equals_full_and_unchanged_input_recompiles_nothing(objs: list[Obj], atts: Any) -> None:
    world = {object_key(o["kind"], o): o for o in [cn("networkpolicy"), *HOST_SUBNETS, *objs]}
    inc = IncrementalCompiler()
    inc.resync([(k[0], o) for k, o in world.items()])
    facts = facts_of(atts)
    assert inc.compile(facts) == compile_intent(list(world.values()), facts)
    before = inc.recompiled
    inc.resync([(k[0], dict(o)) for k, o in world.items()])  # equal objects again: nothing to recompile
    assert inc.compile(facts) == compile_intent(list(world.values()), facts)
    assert inc.recompiled == before


def test_a_pod_change_recompiles_only_the_policies_that_read_its_namespace() -> None:
    def pol(ns: str, peer: Obj) -> Obj:
        return {"kind": "NetworkPolicy", "metadata": {"name": "np", "namespace": ns},
                "spec": {"podSelector": {}, "ingress": [{"from": [peer]}]}}

    world = [cn("networkpolicy"), *HOST_SUBNETS, *({"kind": "Namespace", "metadata": {"name": n}} for n in "abc"),
             pol("a", {"podSelector": {}}), pol("b", {"podSelector": {}}),
             pol("c", {"ipBlock": {"cidr": "10.0.0.0/8"}})]
    inc = IncrementalCompiler()
    inc.resync([(o["kind"], o) for o in world])
    inc.compile(facts_of([]))
    before = inc.recompiled
    new = {"kind": "Pod", "metadata": {"name": "p", "namespace": "a", "resourceVersion": "9"},
           "spec": {"nodeName": "n2"}, "status": {"podIP": "10.128.2.9"}}
    inc.update("Pod", ("a", "p"), new)
    it = inc.compile(facts_of([]))
    assert inc.recompiled - before == 2  # a/np and c/np (ipBlock reads every pod); b/np is untouched
    assert it == compile_intent([*world, new], facts_of([]))
    assert "10.128.2.9" in next(p for p in it.policies if p.namespace == "a").targets
    assert inc.checked == 2, "only the policies reading namespace a (or every pod) are even looked at"
    again = inc.compile(facts_of([]))
    assert inc.checked == 0 and again.policies is it.policies, "nothing changed: the same tuple, no policy checked"


def test_policy_reads_is_conservative() -> None:
    ns: dict[str, Any] = {}
    own = {"metadata": {"namespace": "a"}}
    assert incremental.policy_reads({**own, "spec": {"ingress": [{"from": [{"podSelector": {}}]}]}}, ns) == {"a"}
    assert incremental.policy_reads({**own, "spec": {"egress": [{"ports": [{"port": "http"}]}]}}, ns) == {"*"}
    assert "*" in incremental.policy_reads(
        {**own, "spec": {"ingress": [{"from": [{"ipBlock": {"cidr": "1.0.0.0/8"}}]}]}}, ns)
    assert incremental.policy_reads({**own, "spec": {"ingress": "junk"}}, ns) == {"*"}


def test_a_pod_change_recompiles_only_the_policies_whose_selectors_match_it() -> None:
    """Policies of the pod's namespace that select neither it (podSelector) nor it as a peer are not even
    recompiled: nothing of the pod is read by them. A peer selector counts across namespaces."""
    def pol(ns: str, name: str, target: str, peer: Obj) -> Obj:
        return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns},
                "spec": {"podSelector": {"matchLabels": {"app": target}}, "ingress": [{"from": [peer]}]}}

    def pod(name: str, ns: str, labels: dict[str, str], rv: str) -> Obj:
        return {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels, "resourceVersion": rv},
                "spec": {"nodeName": "n2"}, "status": {"podIP": f"10.128.2.{10 + int(rv)}"}}

    role = {"podSelector": {"matchLabels": {"role": "db"}}}
    world = [cn("networkpolicy"), *HOST_SUBNETS, *({"kind": "Namespace", "metadata": {"name": n, "labels": {"t": "1"}}}
                                                   for n in "ab"),
             pol("a", "web", "web", role), pol("a", "api", "api", {"podSelector": {"matchLabels": {"role": "fe"}}}),
             pol("b", "db", "db", {**role, "namespaceSelector": {"matchLabels": {"t": "1"}}})]
    inc = IncrementalCompiler()
    inc.resync([(o["kind"], o) for o in world])
    inc.compile(facts_of([]))
    for new, recompiled in ((pod("x", "a", {"app": "other"}, "1"), set()),
                            (pod("y", "a", {"app": "api"}, "2"), {"a/api"}),
                            (pod("z", "a", {"role": "db"}, "3"), {"a/web", "b/db"}),
                            (pod("z", "a", {"role": "none"}, "4"), {"a/web", "b/db"})):  # it leaves their peers
        before = {k: c.policy for k, c in inc._policies.items()}
        inc.update("Pod", (new["metadata"]["namespace"], new["metadata"]["name"]), new)
        world = [o for o in world if object_key(o["kind"], o) != object_key("Pod", new)] + [new]
        it = inc.compile(facts_of([]))
        assert it == compile_intent(world, facts_of([])), new["metadata"]
        assert {"/".join(k) for k, c in inc._policies.items() if c.policy is not before[k]} <= recompiled
        assert inc.checked == len(recompiled), new["metadata"]


def test_pod_selectors_are_conservative() -> None:
    assert incremental.pod_selectors({"spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}})
    assert incremental.pod_selectors({"spec": {"ingress": [{"from": [{"ipBlock": {"cidr": "1.0.0.0/8"}}]}]}}) is None
    bogus = {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}
    assert incremental.pod_selectors({"spec": {"ingress": [{"from": [{"podSelector": bogus}]}]}}) is None
    assert incremental.pod_selectors({"spec": {"ingress": "junk"}}) is None


def test_only_the_services_an_event_touches_are_recomputed_and_each_source_counts() -> None:
    """A service's VIPs follow its pods (no Endpoints or slices), then its Endpoints, then a slice that
    names it, then one that moves to another service; the other services are not even looked at, and
    a sync that moved no VIP hands back the same tuple."""
    def svc(name: str, ns: str = "a") -> Obj:
        return {"kind": "Service", "metadata": {"name": name, "namespace": ns},
                "spec": {"clusterIP": f"172.30.0.{10 + int(name[1:])}", "selector": {"app": "x"},
                         "ports": [{"name": "web", "port": 80, "targetPort": 8080}]}}

    def pod(ip: str, rv: str) -> Obj:
        return {"kind": "Pod", "metadata": {"name": "p", "namespace": "a", "labels": {"app": "x"}, "resourceVersion": rv},
                "spec": {"nodeName": "n2"}, "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}}

    def sliced(owner: str, ip: str) -> Obj:
        return {"kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {"name": "s1-x", "namespace": "a", "labels": {"kubernetes.io/service-name": owner}},
                "ports": [{"name": "web", "port": 8080, "protocol": "TCP"}],
                "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}]}

    world: dict[tuple[str, str, str], Obj] = {}
    inc = IncrementalCompiler()

    def put(obj: Obj, check: bool = True) -> tuple[Any, ...]:
        key = object_key(obj["kind"], obj)
        world[key] = obj
        inc.update(obj["kind"], key[1:], obj)
        if not check:
            return ()
        got = inc.compile(facts_of([]))
        assert got == compile_intent(list(world.values()), facts_of([])), key
        return got.services

    for obj in [cn("networkpolicy"), *HOST_SUBNETS]:
        put(obj, check=False)
    for obj in (svc(f"s{i}", ns) for i, ns in enumerate("aabbcc")):
        put(obj)
    first = put(pod("10.128.2.5", "1"))
    assert [v.endpoints for v in first if v.key == "a/s1:web"][0][0].ip == "10.128.2.5"  # from the pod
    assert put(pod("10.128.2.5", "2")) is first  # a pod event that moved no VIP: the same tuple
    put({"kind": "Endpoints", "metadata": {"name": "s1", "namespace": "a"},
         "subsets": [{"addresses": [{"ip": "10.128.2.6"}], "ports": [{"name": "web", "port": 8080}]}]})
    put(sliced("s1", "10.128.2.7"))
    moved = put(sliced("s0", "10.128.2.7"))
    assert {v.key: v.endpoints[0].ip for v in moved if v.key.startswith("a/") and v.endpoints} == \
        {"a/s0:web": "10.128.2.7", "a/s1:web": "10.128.2.6"}
    kept = {v.key: v for v in moved}
    put(svc("s3", "b") | {"metadata": {"name": "s3", "namespace": "b", "labels": {"new": "label"}}}, check=False)
    after = {v.key: v for v in put({"kind": "Endpoints", "metadata": {"name": "s2", "namespace": "b"},  # same sync
                                    "subsets": [{"addresses": [{"ip": "10.128.2.9"}],
                                                 "ports": [{"name": "web", "port": 8080}]}]})}
    assert after["b/s2:web"].endpoints[0].ip == "10.128.2.9"
    assert after["b/s3:web"] is kept["b/s3:web"], "VIPs that did not change keep their objects"
