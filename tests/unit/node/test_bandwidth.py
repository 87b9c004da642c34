"""Pod bandwidth: annotation values (1k..1P, k8s wording), which events mark a pod, what a sync touches."""

from __future__ import annotations

from typing import Any

import pytest

from osdn.kernel import tc
from osdn.node import bandwidth as bw
from osdn.node.bandwidth import BandwidthError, PodBandwidth, wanted
from osdn.node.ipam import Lease

IN, OUT = "kubernetes.io/ingress-bandwidth", "kubernetes.io/egress-bandwidth"


def pod(name: str = "iperf-slow", node: str = "n1", **ann: str) -> dict[str, Any]:
    keys = {"ingress": IN, "egress": OUT}
    return {"metadata": {"name": name, "namespace": "t", "annotations": {keys[k]: v for k, v in ann.items()}},
            "spec": {"nodeName": node}}


@pytest.mark.parametrize(("value", "bits"), [("10M", 10_000_000), ("1Mi", 1 << 20), ("1.2k", 1200), ("1P", 10**15)])
def test_values_in_range(value: str, bits: int) -> None:
    assert wanted(pod(ingress=value, egress=value)) == tc.Bandwidth(bits, bits)


@pytest.mark.parametrize(("value", "words"), [("foo", "failed to parse pod bandwidth"),
                                              ("0.5k", "unreasonably small (< 1kbit)"),
                                              ("2P", "unreasonably large (> 1Pbit)")])
def test_bad_values_name_pod_key_and_value(value: str, words: str) -> None:
    with pytest.raises(BandwidthError) as exc:
        wanted(pod(egress=value))
    assert str(exc.value).startswith(f"Pod t/iperf-slow: metadata.annotations[{OUT}]: Invalid value: '{value}'")
    assert words in str(exc.value)


def test_no_annotations_is_unlimited() -> None:
    assert wanted(pod()) == tc.Bandwidth()


def test_only_this_nodes_pods_with_changed_limits_are_marked() -> None:
    b = PodBandwidth("ns", "n1")
    assert b.note_event(pod(ingress="10M"), pod(ingress="20M"))
    assert not b.note_event(pod(ingress="10M"), pod(ingress="10M"))
    assert not b.note_event(pod(node="n2", ingress="10M"), pod(node="n2"))
    assert b.dirty == {"t/iperf-slow"}


class FakeTc:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.kernel: dict[str, tc.Bandwidth] = {}
        self.calls: list[str] = []
        monkeypatch.setattr(bw.tc, "ensure_bandwidth", self.ensure)

    def ensure(self, netns: str, veth: str, want: tc.Bandwidth) -> bool:
        self.calls.append(veth)
        changed = self.kernel.get(veth, tc.Bandwidth()) != want
        self.kernel[veth] = want
        return changed


def lease(name: str) -> Lease:
    return Lease(f"c-{name}", "10.128.0.9", "t", name, host_veth=f"v-{name}")


def test_sync_adopts_everything_once_then_only_marked_or_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTc(monkeypatch)
    pods = {"slow": pod("slow", ingress="10M"), "fast": pod("fast")}
    b = PodBandwidth("ns", "n1")
    leases = [lease("slow"), lease("fast")]
    assert b.sync(leases, lambda ns, n: pods[n], full=False) == 1  # first sync: both looked at
    assert sorted(fake.calls) == ["v-fast", "v-slow"]
    fake.calls.clear()
    assert b.sync(leases, lambda ns, n: pods[n], full=False) == 0 and fake.calls == []
    pods["slow"] = pod("slow", ingress="20M", egress="5M")  # live change
    assert b.note_event(pods["slow"], pod("slow", ingress="10M"))
    assert b.sync(leases, lambda ns, n: pods[n], full=False) == 1
    assert fake.kernel["v-slow"] == tc.Bandwidth(20_000_000, 5_000_000) and fake.calls == ["v-slow"]
    fake.calls.clear()
    assert b.sync(leases, lambda ns, n: pods[n], full=True) == 0 and fake.calls == ["v-slow"]  # full: limited only
    pods["slow"] = pod("slow")  # annotations removed
    b.note_event(pods["slow"], pod("slow", ingress="20M", egress="5M"))
    assert b.sync(leases, lambda ns, n: pods[n], full=False) == 1
    assert fake.kernel["v-slow"] == tc.Bandwidth()


def test_a_bad_stored_value_keeps_the_old_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTc(monkeypatch)
    b = PodBandwidth("ns", "n1")
    b.sync([lease("slow")], lambda ns, n: pod("slow", ingress="10M"), full=False)
    b.note_event(pod("slow", ingress="2P"), pod("slow", ingress="10M"))
    assert b.sync([lease("slow")], lambda ns, n: pod("slow", ingress="2P"), full=False) == 0
    assert fake.kernel["v-slow"] == tc.Bandwidth(10_000_000, None)
