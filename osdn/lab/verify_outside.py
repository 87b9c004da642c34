"""`osdn adm verify --outside`: every probed pod connects to every outside web-server address of the
lab (203.0.113.0/24, port 80: `.80`, `.81` and any `osdn lab outside add`), and the answer is compared
with the model's verdict for that external destination (NetworkPolicy egress, the egress firewall with
the master's resolution of its dnsNames, egress IPs: `osdn.model.oracle`).

The egress firewall of a node can hold more addresses for a dnsName than the model knows: answers
its DNS server saw (`osdn.node.dnshold`). Those addresses are allowed by the kernel for as long as
the answer's TTL; the model only knows the master's resolution, so such a probe may disagree, and
the report says so.

Pure: `compute_outside_pairs`, `render_outside_matrix`. `observe_outside_ips` reads the lab's web
namespace; `probe_outside` probes (TCP connections inside lab namespaces only).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from osdn.kernel import links
from osdn.lab.topology import EXTERNAL_CIDR
from osdn.lab.verify import Check, Pair, Prober, Progress, VerifyOptions, VerifyPod, probe_all, recheck
from osdn.model.cluster import ClusterState
from osdn.model.oracle import compute_verdict
from osdn.model.resolve import pod_endpoint
from osdn.model.verdict import EXTERNAL, Connection, Endpoint, Verdict

OUTSIDE_PREFIX = "outside/"
OUTSIDE_PORT = 80


def observe_outside_ips(web_netns: str) -> tuple[str, ...]:
    """The lab's outside web-server addresses (those of its `web` namespace in the external network)."""
    net = ipaddress.IPv4Network(EXTERNAL_CIDR)

    def read(nl: links.NL) -> tuple[str, ...]:
        idx = nl.require("eth0")
        return tuple(sorted((a.get_attr("IFA_ADDRESS") for a in nl.ipr.get_addr(index=idx, family=2)),
                            key=ipaddress.IPv4Address))

    return tuple(ip for ip in links.with_netlink(web_netns, read) if ipaddress.IPv4Address(ip) in net)


def compute_outside_verdict(state: ClusterState, src_pod: str, ip: str) -> Verdict:
    """Pure: the model's verdict for pod `src_pod` connecting to the outside address `ip` on port 80."""
    src = pod_endpoint(state, state.pod_index[src_pod])
    dst = Endpoint(EXTERNAL, ip=ipaddress.IPv4Address(ip))
    return compute_verdict(state, Connection(src, dst, "TCP", OUTSIDE_PORT))


def compute_outside_pairs(state: ClusterState, pods: Sequence[VerifyPod], selected: set[str],
                          outside: Sequence[str]) -> tuple[list[Pair], list[Verdict]]:
    """Pure: (selected pod, outside address) pairs with the model's verdict for each."""
    pairs, models = [], []
    for ip in outside:
        dst = VerifyPod(f"{OUTSIDE_PREFIX}{ip}", ip, "", "")
        for pod in pods:
            if pod.key in selected:
                pairs.append(Pair(pod, dst, OUTSIDE_PORT))
                models.append(compute_outside_verdict(state, pod.key, ip))
    return pairs, models


def probe_outside(pairs: Sequence[Pair], models: Sequence[Verdict], opts: VerifyOptions, probe: Prober,
                  progress: Progress) -> list[Check]:
    """Probe (in parallel) and compare; pairs that disagree or failed are probed again after `settle`."""
    results = probe_all(pairs, opts.timeout, opts.parallel, probe, progress)
    checks = [Check(p.src.key, p.dst.key, p.port, m.allowed, m.reason, r)
              for p, m, r in zip(pairs, models, results, strict=True)]
    return recheck(pairs, checks, opts, probe, progress, "outside probe(s) disagree or failed")


def _cell(check: Check) -> str:
    if check.failed:
        return "E"
    if check.agrees:
        return "." if check.model_allowed else "x"
    return "!" if check.model_allowed else "?"


def render_outside_matrix(pods: Sequence[VerifyPod], checks: Sequence[Check]) -> list[str]:
    """Pure: one row per outside address, one column per probed pod (numbered as in the pod matrices)."""
    by = {(c.dst, c.src): c for c in checks if c.dst.startswith(OUTSIDE_PREFIX)}
    rows = sorted({dst for dst, _ in by}, key=lambda d: ipaddress.IPv4Address(d[len(OUTSIDE_PREFIX):]))
    if not rows:
        return []
    width = max(len(r) for r in rows)
    colw = len(str(len(pods)))
    corner = "outside \\ from"
    lines = [f"outside world (TCP/{OUTSIDE_PORT}); columns are the source pods",
             f"{corner:<{width}} " + " ".join(f"{n:>{colw}}" for n in range(1, len(pods) + 1))]
    for dst in rows:
        cells = " ".join(f"{(_cell(c) if (c := by.get((dst, p.key))) else '-'):>{colw}}" for p in pods)
        lines.append(f"{dst:<{width}} {cells}")
    return lines
