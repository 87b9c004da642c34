"""`osdn adm verify`, services part: every probed pod connects to every service ClusterIP on each of
its TCP ports, and the answer is compared with the model's verdict for that service.

What the kernel must do, per the model (`osdn.model.oracle`: policy and isolation judge the endpoint
pod after DNAT):
- allowed (every endpoint admits the client, or a node-local service): the connection reaches
  something (connected, or refused by an endpoint with nothing listening);
- the service has no endpoints: **refused** at once (every node rejects it); a timeout disagrees;
- denied (no endpoint admits the client): no answer.
A service some of whose endpoints admit the client and some do not has no single right answer (the
node picks an endpoint at random): such pairs are not probed and are listed as skipped.

Pure: `compute_service_targets`, `compute_service_expectation`, `compute_service_pairs`,
`render_service_matrix`. `probe_services` probes (TCP connections inside lab namespaces only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address

from osdn.lab.verify import (
    Check,
    Pair,
    Prober,
    Progress,
    Skipped,
    VerifyOptions,
    VerifyPod,
    probe_all,
    recheck,
)
from osdn.model.cluster import ClusterState
from osdn.model.oracle import compute_verdict
from osdn.model.resolve import pod_endpoint
from osdn.model.services import NO_ENDPOINTS
from osdn.model.verdict import DENY, SERVICE, Connection, Endpoint

SERVICE_PREFIX = "svc/"


@dataclass(frozen=True)
class ServiceTarget:
    key: str  # svc/<namespace>/<name>
    ip: str
    port: int

    @property
    def service(self) -> str:
        return self.key[len(SERVICE_PREFIX):]


@dataclass(frozen=True)
class Expectation:
    """The model's answer for one (pod, service port)."""

    allowed: bool
    refused: bool  # denied because the service has no endpoints: the node rejects (connection refused)
    reason: str
    mixed: bool = False  # some endpoints admit the client and some do not: no single right answer


def compute_service_targets(state: ClusterState, ports: Sequence[int] = ()) -> list[ServiceTarget]:
    """Pure: every ClusterIP and TCP port of every service (only `ports` if given), sorted."""
    out = [ServiceTarget(f"{SERVICE_PREFIX}{svc.key}", str(svc.cluster_ip), sp.port)
           for svc in state.services if svc.cluster_ip is not None
           for sp in svc.ports if sp.protocol == "TCP" and (not ports or sp.port in ports)]
    return sorted(out, key=lambda t: (t.key, t.port))


def compute_service_expectation(state: ClusterState, src_pod: str, target: ServiceTarget) -> Expectation:
    """Pure: the model's verdict for pod `src_pod` connecting to `target`."""
    src = pod_endpoint(state, state.pod_index[src_pod])
    dst = Endpoint(SERVICE, ip=IPv4Address(target.ip), service=target.service)
    v = compute_verdict(state, Connection(src, dst, "TCP", target.port))
    refused = not v.allowed and any(s.verdict == DENY and s.detail == NO_ENDPOINTS for s in v.steps)
    mixed = v.allowed and any(not b.allowed for b in v.backends)
    return Expectation(v.allowed, refused, v.reason, mixed)


def compute_service_pairs(state: ClusterState, pods: Sequence[VerifyPod], selected: set[str],
                          opts: VerifyOptions) -> tuple[list[Pair], list[Expectation], list[Skipped]]:
    """Pure: (pod, service port) pairs to probe with the model's expectation, and the mixed ones skipped.
    A pair is probed when its pod is selected (`-n`/`-l`) or its service is in a `-n` namespace."""
    pairs, models, skipped = [], [], []
    for target in compute_service_targets(state, opts.ports):
        in_ns = bool(opts.namespaces) and target.service.split("/", 1)[0] in opts.namespaces
        dst = VerifyPod(target.key, target.ip, "", "")
        for pod in pods:
            if pod.key not in selected and not in_ns:
                continue
            want = compute_service_expectation(state, pod.key, target)
            if want.mixed:
                skipped.append(Skipped(f"{pod.key} -> {target.key}:{target.port}", "some endpoints admit it and "
                                       "some do not: the node picks one at random"))
                continue
            pairs.append(Pair(pod, dst, target.port))
            models.append(want)
    return pairs, models, skipped


def probe_services(pairs: Sequence[Pair], models: Sequence[Expectation], opts: VerifyOptions, probe: Prober,
                   progress: Progress) -> list[Check]:
    """Probe (in parallel) and compare; pairs that disagree or failed are probed again after `settle`."""
    results = probe_all(pairs, opts.timeout, opts.parallel, probe, progress)
    checks = [Check(p.src.key, p.dst.key, p.port, m.allowed, m.reason, r, refused_expected=m.refused)
              for p, m, r in zip(pairs, models, results, strict=True)]
    return recheck(pairs, checks, opts, probe, progress, "service probe(s) disagree or failed")


def _cell(check: Check) -> str:
    if check.failed:
        return "E"
    if check.agrees:
        return "r" if check.refused_expected else "." if check.model_allowed else "x"
    return "!" if check.model_allowed or check.refused_expected else "?"


def render_service_matrix(pods: Sequence[VerifyPod], checks: Sequence[Check]) -> list[str]:
    """Pure: one row per service port, one column per probed pod (numbered as in the pod matrices)."""
    by = {(c.dst, c.port, c.src): c for c in checks if c.dst.startswith(SERVICE_PREFIX)}
    rows = sorted({(dst, port) for dst, port, _ in by})
    if not rows:
        return []
    names = [f"{dst}:{port}" for dst, port in rows]
    width = max(len(n) for n in names)
    colw = len(str(len(pods)))
    corner = "service \\ from"
    lines = ["services (r = both refuse: no endpoints); columns are the source pods",
             f"{corner:<{width}} " + " ".join(f"{n:>{colw}}" for n in range(1, len(pods) + 1))]
    for name, (dst, port) in zip(names, rows, strict=True):
        cells = " ".join(f"{(_cell(c) if (c := by.get((dst, port, p.key))) else '-'):>{colw}}" for p in pods)
        lines.append(f"{name:<{width}} {cells}")
    return lines
