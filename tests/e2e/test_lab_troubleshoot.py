"""`adm diagnose throughput` and `adm capture` on a live 2-node lab: both measurements and the ratio,
the pcap holds the expected packets (read back with tcpdump -r), and nothing is left running."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from labkit import Lab, make_lab, needs_agent

pytestmark = [pytest.mark.e2e, needs_agent]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("ts", "networkpolicy", 2)


@pytest.fixture(scope="module")
def pods(lab: Lab) -> dict[str, tuple[str, str]]:
    return {name: lab.pod(name, "ts", node) for name, node in (("client", "node1"), ("web", "node2"))}


def tools_running() -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if re.match(r"^(nsenter \S+ -- )?(iperf3|tcpdump) ", line)]


def started(proc: subprocess.Popen[str]) -> None:
    """Wait for the capture's progress line, then a moment for tcpdump to open its socket."""
    assert proc.stderr is not None
    assert "capturing on" in proc.stderr.readline()
    time.sleep(1.0)


def read_pcap(path: str) -> list[str]:
    return subprocess.run(["tcpdump", "-nn", "-r", path], capture_output=True, text=True).stdout.splitlines()


def test_diagnose_throughput_prints_both_and_the_ratio(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    before = tools_running()
    done = lab.cli("adm", "diagnose", "throughput", "--from", "ts/client", "--to", "ts/web", "--seconds", "2")
    assert re.search(r"pod -> pod .*ts/client .*ts/web .*: [\d.]+ [GM]bit/s", done.stdout), done.stdout
    assert re.search(r"node -> node +node1 \(198\.18\.0\.\d+\) -> node2 .*underlay.*: [\d.]+ [GM]bit/s", done.stdout)
    assert re.search(r"ratio pod/node: \d\.\d\d", done.stdout)
    assert "pod ts/client -> pod ts/web: " in done.stderr  # the progress line
    assert tools_running() == before


def test_capture_pod_pair_and_vxlan(lab: Lab, pods: dict[str, tuple[str, str]], tmp_path: object) -> None:
    before = tools_running()
    pcap, vx = os.path.join(str(tmp_path), "pods.pcap"), os.path.join(str(tmp_path), "vxlan.pcap")
    caps = [subprocess.Popen([sys.executable, "-m", "osdn", "--config", lab.conf, "adm", "capture", "--pod", "ts/client",
                              "--peer", "ts/web", *extra, "-c", "4", "--timeout", "20", "-w", path],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for extra, path in (([], pcap), (["--vxlan"], vx))]
    for c in caps:
        started(c)
    for _ in range(3):
        lab.get(pods["client"][1], pods["web"][0])
    outs = [c.communicate(timeout=30)[0] for c in caps]
    assert "4 packets captured on pod ts/client (host 10." in outs[0]
    assert "4 packets captured on node node1 (udp port 4789 and host 198.18.0." in outs[1]
    lines = read_pcap(pcap)
    assert len(lines) == 4 and all(pods["client"][0] in x and pods["web"][0] in x for x in lines), lines
    outer = [x for x in read_pcap(vx) if re.match(r"^\d\d:", x)]  # tcpdump prints the inner packet below
    assert len(outer) == 4 and all(".4789: VXLAN" in x for x in outer), outer
    assert tools_running() == before


def test_ctrl_c_stops_tcpdump_and_keeps_the_file(lab: Lab, pods: dict[str, tuple[str, str]], tmp_path: object) -> None:
    before = tools_running()
    path = os.path.join(str(tmp_path), "int.pcap")
    cap = subprocess.Popen([sys.executable, "-m", "osdn", "--config", lab.conf, "adm", "capture", "--pod", "ts/client",
                            "-w", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started(cap)
    for _ in range(4):
        lab.get(pods["client"][1], pods["web"][0])
        time.sleep(0.5)
    cap.send_signal(2)
    out, _ = cap.communicate(timeout=15)
    assert re.search(r"\d+ packets captured", out) and read_pcap(path)
    assert tools_running() == before
