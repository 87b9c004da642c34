"""IntentSource: a full sync hands the compiler only what the informers' caches hold that it was not
fed (objects are matched by identity), and the intent still equals a from-scratch compile of the
caches, also after lost events, re-listed copies and a failed feed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osdn.node.compile import LocalAttachment, NodeFacts, compile_intent
from osdn.node.incremental import object_key
from osdn.node.intentsource import IntentSource

Obj = dict[str, Any]
FACTS = NodeFacts("n1", "198.18.0.11", (LocalAttachment("a", "l", "10.128.0.2", "0a:58:0a:80:00:02", "osdnp2"),),
                  uplinks=("osdnvx0",))
BASE: list[Obj] = [
    {"kind": "ClusterNetwork", "metadata": {"name": "default", "resourceVersion": "1"},
     "pluginName": "redhat/openshift-ovs-networkpolicy", "serviceNetwork": "172.30.0.0/16",
     "clusterNetworks": [{"CIDR": "10.128.0.0/14", "hostSubnetLength": 9}]},
    *({"kind": "HostSubnet", "metadata": {"name": n, "resourceVersion": "1"}, "host": n, "hostIP": ip, "subnet": sn}
      for n, ip, sn in (("n1", "198.18.0.11", "10.128.0.0/23"), ("n2", "198.18.0.12", "10.128.2.0/23")))]


def pod(ns: str, name: str, ip: str, app: str, rv: int) -> Obj:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"app": app},
                                        "resourceVersion": str(rv)},
            "spec": {"nodeName": "n2"}, "status": {"podIP": ip}}


def policy(ns: str, name: str, app: str, rv: int) -> Obj:
    return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns, "resourceVersion": str(rv)},
            "spec": {"podSelector": {"matchLabels": {"app": app}},
                     "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "x"}}}]}]}}


class Caches:
    """The informers' caches: (kind, namespace, name) -> object, handed out as they are (same objects)."""

    def __init__(self, objs: list[Obj]) -> None:
        self.objs = {object_key(o["kind"], o): o for o in objs}

    def snapshot(self) -> list[tuple[str, Obj]]:
        return [(k[0], o) for k, o in self.objs.items()]

    def put(self, obj: Obj) -> Obj | None:
        return self.objs.pop(object_key(obj["kind"], obj), None) if obj.get("gone") else self._set(obj)

    def _set(self, obj: Obj) -> Obj | None:
        key = object_key(obj["kind"], obj)
        old, self.objs[key] = self.objs.get(key), obj
        return old


def counting(source: IntentSource, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every call of the compiler's `update` (a full sync of the old kind made one per cached object)."""
    calls: list[tuple[str, Any]] = []
    real = source.compiler.update

    def update(kind: str, key: tuple[str, str], obj: Any) -> None:
        calls.append((kind, key))
        real(kind, key, obj)
    monkeypatch.setattr(source.compiler, "update", update)
    return calls


def world() -> Caches:
    return Caches([*BASE, *(pod("a", f"p{i}", f"10.128.2.{i + 2}", "x" if i % 2 else "y", 10 + i) for i in range(6)),
                   policy("a", "np", "y", 30), {"kind": "Namespace", "metadata": {"name": "a", "resourceVersion": "2"}}])


def test_an_unchanged_full_sync_feeds_the_compiler_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    caches = world()
    source = IntentSource(caches.snapshot)
    assert source.intent(FACTS, full=True) == compile_intent([o for _, o in caches.snapshot()], FACTS)
    assert source.examined == len(caches.objs)
    calls = counting(source, monkeypatch)
    assert source.intent(FACTS, full=True) == compile_intent([o for _, o in caches.snapshot()], FACTS)
    assert (calls, source.examined) == ([], 0)


def test_events_then_a_full_sync_feed_each_object_once(monkeypatch: pytest.MonkeyPatch) -> None:
    caches = world()
    source = IntentSource(caches.snapshot)
    source.intent(FACTS, full=True)
    new = pod("a", "p9", "10.128.2.30", "x", 40)
    source.record("Pod", new, caches.put(new))
    calls = counting(source, monkeypatch)
    source.intent(FACTS, full=False)
    source.intent(FACTS, full=True)
    assert calls == [("Pod", ("a", "p9"))]


def test_a_full_sync_repairs_lost_events_and_relisted_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    caches = world()
    source = IntentSource(caches.snapshot)
    source.intent(FACTS, full=True)
    caches.put(pod("a", "p7", "10.128.2.31", "x", 41))  # created, its event lost
    caches.put({**caches.objs[("Pod", "a", "p0")], "gone": True})  # deleted, its event lost
    key = ("NetworkPolicy", "a", "np")
    caches.objs[key] = dict(caches.objs[key])  # a re-list's copy: the same resourceVersion
    calls = counting(source, monkeypatch)
    assert source.intent(FACTS, full=True) == compile_intent([o for _, o in caches.snapshot()], FACTS)
    assert sorted(calls) == [("NetworkPolicy", ("a", "np")), ("Pod", ("a", "p0")), ("Pod", ("a", "p7"))]
    assert source.intent(FACTS, full=True) and source.examined == 0


def test_after_a_failed_feed_the_next_full_sync_diffs_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    caches = world()
    source = IntentSource(caches.snapshot)
    source.intent(FACTS, full=True)
    new = pod("a", "p8", "10.128.2.32", "x", 42)
    source.record("Pod", new, caches.put(new))

    def broken(kind: str, key: tuple[str, str], obj: Any) -> None:
        raise RuntimeError("feed failed")
    with monkeypatch.context() as m:
        m.setattr(source.compiler, "update", broken)
        with pytest.raises(RuntimeError):
            source.intent(FACTS, full=False)
    assert source.intent(FACTS, full=True) == compile_intent([o for _, o in caches.snapshot()], FACTS)
    assert source.examined == len(caches.objs)


OPS = st.lists(st.tuples(st.sampled_from(["event", "lost", "relist", "sync", "full"]),
                         st.sampled_from(["p0", "p1", "p2", "q"]), st.sampled_from(["x", "y"]),
                         st.sampled_from(["10.128.2.2", "10.128.2.3", "10.128.2.9"]), st.booleans()),
               min_size=1, max_size=30)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_full_syncs_equal_a_compile_from_scratch(ops: list[tuple[str, str, str, str, bool]]) -> None:
    caches = world()
    source = IntentSource(caches.snapshot)
    source.intent(FACTS, full=True)
    for rv, (op, name, app, ip, gone) in enumerate(ops, start=100):
        obj = policy("a", "np", app, rv) if name == "q" else pod("a", name, ip, app, rv)
        obj = {**obj, "gone": True} if gone else obj
        if op in ("event", "lost"):
            old = caches.put(obj)
            if op == "event":
                source.record(obj["kind"], None if gone else obj, old)
        elif op == "relist":
            caches.objs = {k: dict(o) for k, o in caches.objs.items()}
        else:
            got = source.intent(FACTS, full=op == "full")
            if op == "full":
                assert got == compile_intent([o for _, o in caches.snapshot()], FACTS)
    assert source.intent(FACTS, full=True) == compile_intent([o for _, o in caches.snapshot()], FACTS)
