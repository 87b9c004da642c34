"""Pod bandwidth in a 2-node lab, measured with iperf3: the seed's `iperf-slow` pod (10M both ways)
holds its limits within 10%, a live change of the annotation takes effect, removing it lifts the
limit, an out-of-range value is refused, and a pod without annotations is not limited."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import pytest
from labkit import Lab, make_lab, needs_agent

from osdn.kernel.netns import spawn_in_netns

pytestmark = [pytest.mark.e2e, needs_agent]
IN, OUT = "kubernetes.io/ingress-bandwidth", "kubernetes.io/egress-bandwidth"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("bw", "networkpolicy", 2)


@pytest.fixture(scope="module")
def pods(lab: Lab) -> dict[str, tuple[str, str]]:
    got = {name: lab.pod(name, "bw", node) for name, node in (("iperf-slow", "node1"), ("peer", "node2"),
                                                                 ("free", "node1"))}
    lab.cli("annotate", "pod", "-n", "bw", "iperf-slow", f"{IN}=10M", f"{OUT}=10M")
    return got


def rate(server: tuple[str, str], client: tuple[str, str], seconds: int = 4) -> float:
    """Bit/s received by `server` from `client` (iperf3, one TCP stream)."""
    port = "5301"
    srv = spawn_in_netns(server[1], ["iperf3", "-s", "-1", "-p", port], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.4)
        out = subprocess.run(["nsenter", f"--net=/run/netns/{client[1]}", "iperf3", "-c", server[0], "-p", port,
                              "-t", str(seconds), "-J"], capture_output=True, text=True, timeout=seconds + 20).stdout
        return float(json.loads(out)["end"]["sum_received"]["bits_per_second"])
    finally:
        srv.kill()
        srv.wait()


def near(measured: float, limit: float) -> bool:
    return abs(measured - limit) <= 0.1 * limit


def eventually(fn: object, within: float = 20.0) -> float:
    deadline = time.monotonic() + within
    while True:
        got = fn()  # type: ignore[operator]
        if got or time.monotonic() > deadline:
            return float(got)
        time.sleep(0.5)


def test_iperf_slow_is_held_to_10M_both_ways(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    slow, peer = pods["iperf-slow"], pods["peer"]
    assert eventually(lambda: near(r := rate(peer, slow), 10e6) and r), "egress (policed) not ~10 Mbit/s"
    assert near(rate(slow, peer), 10e6), "ingress (shaped) not ~10 Mbit/s"


def test_live_change_takes_effect(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    slow, peer = pods["iperf-slow"], pods["peer"]
    lab.cli("annotate", "pod", "-n", "bw", "iperf-slow", f"{OUT}=20M", "--overwrite")
    assert eventually(lambda: near(r := rate(peer, slow), 20e6) and r), "egress not ~20 Mbit/s after the change"
    assert near(rate(slow, peer), 10e6), "ingress changed too"


def test_out_of_range_values_are_refused(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    done = lab.cli("annotate", "pod", "-n", "bw", "iperf-slow", f"{IN}=2P", "--overwrite", check=False)
    assert done.returncode != 0 and "unreasonably large (> 1Pbit)" in done.stderr, done.stderr


def test_removing_the_annotations_lifts_the_limit_and_others_are_unlimited(
        lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    slow, peer = pods["iperf-slow"], pods["peer"]
    assert rate(peer, pods["free"]) > 200e6, "a pod without annotations is limited"
    lab.cli("annotate", "pod", "-n", "bw", "iperf-slow", f"{IN}-", f"{OUT}-")
    assert eventually(lambda: rate(peer, slow) > 200e6), "egress still limited after the annotations went"
    assert rate(slow, peer) > 200e6, "ingress still limited"
