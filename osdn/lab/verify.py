"""`osdn adm verify`: real TCP probes between every pair of local lab pods, compared with the model.

Role: the check of DESIGN.md §5 ("the same answer must come from the kernel") for a running lab.
From the cluster's objects (as the API server has them) it picks the pods it can probe (running, with
an IP and a `lab.osdn.io/netns` namespace on this machine; the others are reported as skipped),
computes the model's matrix for each port (`osdn.model.matrix`), connects from inside each source
pod's namespace to each destination pod's IP and port (`observe.observe_connect`; a bounded thread
pool, short timeout), and compares: the model's "allowed" must be the kernel's "reached" (connected,
or refused by a pod with nothing listening on that port), "denied" must be "no answer".

Policies take a sync to reach the kernel, so pairs that disagree (or whose probe failed) are probed
once more after `settle` seconds with twice the timeout; the second answer is the one reported.

Pure: `compute_*`, `render_verify_report`, `verify_report_to_dict` (testable without root).
`run_verify` probes (side effects: TCP connections inside lab namespaces only).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any

from osdn.api import labels
from osdn.kernel import netns
from osdn.lab.observe import REFUSED, ProbeResult, observe_connect
from osdn.model.cluster import ClusterState
from osdn.model.matrix import Matrix, compute_matrix

Obj = Mapping[str, Any]
Progress = Callable[[str], None]
Prober = Callable[[str, str, int, float], ProbeResult]
ANNOTATION_NETNS = "lab.osdn.io/netns"
DEFAULT_PORT = 80


@dataclass(frozen=True)
class VerifyPod:
    """A pod that can be probed: from inside `netns`, and at `ip`."""

    key: str  # namespace/name, as the model names it
    ip: str
    netns: str
    node: str
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Skipped:
    key: str
    why: str


@dataclass(frozen=True)
class Pair:
    src: VerifyPod
    dst: VerifyPod
    port: int


@dataclass(frozen=True)
class Check:
    """One probe and the model's answer for it."""

    src: str
    dst: str
    port: int
    model_allowed: bool
    reason: str
    kernel: ProbeResult
    retried: bool = False
    refused_expected: bool = False  # a service without endpoints: the node must refuse (`verify_services`)

    @property
    def failed(self) -> bool:
        """The probe could not tell (e.g. the namespace vanished): neither agrees nor disagrees."""
        return self.kernel.reached is None

    @property
    def agrees(self) -> bool:
        if self.refused_expected:
            return self.kernel.outcome == REFUSED
        return self.kernel.reached is not None and self.kernel.reached == self.model_allowed


@dataclass(frozen=True)
class VerifyOptions:
    ports: tuple[int, ...] = ()  # empty: the pods' TCP containerPorts plus 80
    namespaces: tuple[str, ...] = ()  # check pairs with at least one end in these projects ...
    selector: str = ""  # ... and matching this label selector (both empty: every pair)
    timeout: float = 1.0
    parallel: int = 32
    settle: float = 2.0  # seconds before disagreeing pairs are probed again (0: no second probe)
    outside: tuple[str, ...] = ()  # outside addresses every pod also probes on port 80 (`verify_outside`)


@dataclass(frozen=True)
class VerifyReport:
    mode: str
    protocol: str
    ports: tuple[int, ...]
    pods: tuple[VerifyPod, ...]  # probed pods, in matrix order
    checks: tuple[Check, ...]
    skipped: tuple[Skipped, ...]
    options: VerifyOptions
    seconds: float = 0.0

    @property
    def disagreements(self) -> list[Check]:
        return [c for c in self.checks if not c.agrees and not c.failed]

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.failed]

    @property
    def ok(self) -> bool:
        return bool(self.checks) and not self.disagreements and not self.failures


# -- what to probe (pure) -------------------------------------------------------------------------

def compute_targets(pods: Iterable[Obj], netns_exists: Callable[[str], bool]) -> tuple[list[VerifyPod], list[Skipped]]:
    """Pure (given `netns_exists`): the probeable pods, sorted by key, and the others with why."""
    ok: list[VerifyPod] = []
    skipped: list[Skipped] = []
    for pod in pods:
        meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
        key = f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"
        ns = (meta.get("annotations") or {}).get(ANNOTATION_NETNS, "")
        phase = status.get("phase") or "Pending"
        why = ("host-network pod (it is its node, not in the pod matrix)" if spec.get("hostNetwork")
               else "being deleted" if meta.get("deletionTimestamp")
               else f"not running (phase {phase})" if phase != "Running"
               else "no pod IP" if not status.get("podIP")
               else f"no {ANNOTATION_NETNS} annotation (not run by a local osdn lab)" if not ns
               else f"its network namespace {ns!r} is not on this machine" if not netns_exists(ns)
               else "")
        if why:
            skipped.append(Skipped(key, why))
        else:
            ok.append(VerifyPod(key, str(status["podIP"]), str(ns), str(spec.get("nodeName") or ""),
                                dict(meta.get("labels") or {})))
    return sorted(ok, key=lambda p: p.key), sorted(skipped, key=lambda s: s.key)


def compute_default_ports(pods: Iterable[Obj]) -> tuple[int, ...]:
    """Pure: every TCP containerPort any pod declares, plus 80, sorted."""
    ports = {DEFAULT_PORT}
    for pod in pods:
        spec = pod.get("spec") or {}
        for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
            for p in c.get("ports") or []:
                if p.get("containerPort") and str(p.get("protocol") or "TCP").upper() == "TCP":
                    ports.add(int(p["containerPort"]))
    return tuple(sorted(ports))


def compute_selection(targets: Sequence[VerifyPod], namespaces: Sequence[str], selector: str) -> set[str]:
    """Pure: keys of the pods picked by `-n` and `--selector` (all when both are empty)."""
    sel = labels.parse(selector)
    return {p.key for p in targets
            if (not namespaces or p.key.split("/", 1)[0] in namespaces) and sel.matches(p.labels)}


def compute_pairs(targets: Sequence[VerifyPod], ports: Sequence[int], selected: set[str]) -> list[Pair]:
    """Pure: every ordered pair of distinct pods with at least one end selected, for every port.

    Ordered diagonal by diagonal (pod i -> pod i+k), so probes running at the same time go to
    different destinations and no pod's listen queue is flooded.
    """
    n = len(targets)
    out = []
    for port in ports:
        for k in range(1, n):
            for i in range(n):
                s, d = targets[i], targets[(i + k) % n]
                if s.key in selected or d.key in selected:
                    out.append(Pair(s, d, port))
    return out


def compute_checks(matrices: Mapping[int, Matrix], pairs: Sequence[Pair],
                   results: Sequence[ProbeResult]) -> list[Check]:
    """Pure: each probe next to the model's verdict and reason for the same pair and port."""
    wanted = {(p.src.key, p.dst.key) for p in pairs}
    cells = {(port, c.src, c.dst): c for port, m in matrices.items() for c in m.cells() if (c.src, c.dst) in wanted}
    out = []
    for pair, result in zip(pairs, results, strict=True):
        cell = cells.get((pair.port, pair.src.key, pair.dst.key))
        allowed, reason = (cell.allowed, cell.reason) if cell else (False, "not in the model's matrix")
        out.append(Check(pair.src.key, pair.dst.key, pair.port, allowed, reason, result))
    return out


# -- probing --------------------------------------------------------------------------------------

def run_verify(objs: Sequence[Obj], opts: VerifyOptions, progress: Progress = lambda _: None,
               probe: Prober = observe_connect) -> VerifyReport:
    """Probe every selected pair on every port, compare with the model, probe disagreements again."""
    t0 = time.monotonic()
    pod_objs = [o for o in objs if o.get("kind") == "Pod"]
    state = ClusterState.from_objects(objs)
    targets, skipped = compute_targets(pod_objs, netns.netns_exists)
    ports = opts.ports or compute_default_ports(pod_objs)
    pairs = compute_pairs(targets, ports, compute_selection(targets, opts.namespaces, opts.selector))
    matrices = {port: compute_matrix(state, "TCP", port) for port in ports}
    from osdn.lab import verify_services as vs  # it builds on this module's types
    selected = compute_selection(targets, opts.namespaces, opts.selector)
    svc_pairs, svc_models, svc_skipped = vs.compute_service_pairs(state, targets, selected, opts)
    progress(f"verify: {len(targets)} pods ({len(skipped)} skipped), TCP ports {', '.join(map(str, ports))}: "
             f"{len(pairs)} probes, {len(svc_pairs)} to service ClusterIPs, {opts.parallel} at a time, "
             f"timeout {opts.timeout:g}s")
    checks = probe_pairs(pairs, matrices, opts, probe, progress)
    checks += vs.probe_services(svc_pairs, svc_models, opts, probe, progress)
    from osdn.lab import verify_outside as vo
    out_pairs, out_models = vo.compute_outside_pairs(state, targets, selected, opts.outside)
    checks += vo.probe_outside(out_pairs, out_models, opts, probe, progress)
    return VerifyReport(state.mode, "TCP", tuple(ports), tuple(targets), tuple(checks),
                        tuple(skipped) + tuple(svc_skipped), opts, time.monotonic() - t0)


def probe_pairs(pairs: Sequence[Pair], matrices: Mapping[int, Matrix], opts: VerifyOptions, probe: Prober,
                progress: Progress = lambda _: None) -> list[Check]:
    """Probe `pairs` (in parallel), compare with the model; disagreeing or failed ones once more after
    `opts.settle` seconds with twice the timeout (the second answer stands)."""
    checks = compute_checks(matrices, pairs, probe_all(pairs, opts.timeout, opts.parallel, probe, progress))
    return recheck(pairs, checks, opts, probe, progress, "probe(s) disagree with the model or failed")


def recheck(pairs: Sequence[Pair], checks: list[Check], opts: VerifyOptions, probe: Prober, progress: Progress,
            what: str) -> list[Check]:
    """Probe the checks that disagree or failed once more after `opts.settle` seconds with twice the
    timeout (a change may still be on its way to the kernel); the second answer stands."""
    again = [i for i, c in enumerate(checks) if not c.agrees]
    if again and opts.settle > 0:
        progress(f"{len(again)} {what}: probing them again in {opts.settle:g}s "
                 f"(a change may still be on its way to the kernel)")
        time.sleep(opts.settle)
        second = probe_all([pairs[i] for i in again], opts.timeout * 2, opts.parallel, probe, progress)
        for i, result in zip(again, second, strict=True):
            checks[i] = replace(checks[i], kernel=result, retried=True)
    return checks


def probe_all(pairs: Sequence[Pair], timeout: float, parallel: int, probe: Prober,
               progress: Progress) -> list[ProbeResult]:
    results: list[ProbeResult | None] = [None] * len(pairs)
    if not pairs:
        return []
    t0 = last = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="verify") as pool:
        futures = {pool.submit(probe, p.src.netns, p.dst.ip, p.port, timeout): i for i, p in enumerate(pairs)}
        for done, fut in enumerate(as_completed(futures), 1):
            results[futures[fut]] = fut.result()
            now = time.monotonic()
            if now - last >= 1.0 and done < len(pairs):
                progress(f"  {done}/{len(pairs)} probed ({now - t0:.1f}s)")
                last = now
    return [r for r in results if r is not None]


# -- output (pure) --------------------------------------------------------------------------------

LEGEND = ". = both allow, x = both deny, ! = model allows, kernel blocks, ? = model denies, kernel reaches, " \
         "E = probe failed, - = self or not probed"


def _cell(check: Check | None) -> str:
    if check is None:
        return "-"
    if check.failed:
        return "E"
    if check.agrees:
        return "." if check.model_allowed else "x"
    return "!" if check.model_allowed else "?"


def render_matrices(report: VerifyReport) -> list[str]:
    """One matrix per port over the probed pods (rows are sources, columns destinations)."""
    keys = [p.key for p in report.pods]
    if not keys:
        return []
    by = {(c.port, c.src, c.dst): c for c in report.checks}
    width = max(len(k) for k in keys)
    colw = len(str(len(keys)))
    corner = "from \\ to"
    lines = [f"legend: {LEGEND}"]
    for port in report.ports:
        lines.append(f"{report.protocol}/{port}")
        lines.append(f"{corner:<{width + colw + 2}} " + " ".join(f"{n:>{colw}}" for n in range(1, len(keys) + 1)))
        for a, src in enumerate(keys, 1):
            cells = " ".join(f"{_cell(by.get((port, src, dst))):>{colw}}" for dst in keys)
            lines.append(f"{a:>{colw}}  {src:<{width}} {cells}")
    return lines


def render_verify_report(report: VerifyReport, matrices: bool = True) -> str:
    """The summary, the matrices, every disagreement with the model's reason, and the skipped pods."""
    nodes = sorted({p.node for p in report.pods})
    opts = report.options
    lines = [f"verify: {report.mode} mode, {len(report.pods)} pods on {len(nodes)} node(s), "
             f"{report.protocol} port(s) {', '.join(map(str, report.ports))}, timeout {opts.timeout:g}s"]
    if matrices:
        from osdn.lab.verify_outside import render_outside_matrix
        from osdn.lab.verify_services import render_service_matrix
        lines += render_matrices(report) + render_service_matrix(report.pods, report.checks)
        lines += render_outside_matrix(report.pods, report.checks)
    agree = [c for c in report.checks if c.agrees]
    reached = sum(1 for c in agree if c.model_allowed)
    refused = sum(1 for c in agree if c.refused_expected)
    retried = [c for c in report.checks if c.retried]
    lines.append(f"{len(report.checks)} probes: {len(agree)} agree ({reached} allowed and reached, "
                 f"{len(agree) - reached - refused} denied and blocked"
                 + (f", {refused} refused: no endpoints" if refused else "") + f"), {len(report.disagreements)} disagree, "
                 f"{len(report.failures)} failed"
                 + (f"; {len(retried)} probed again after {opts.settle:g}s" if retried else ""))
    for c in report.disagreements + report.failures:
        model = "ALLOWED" if c.model_allowed else "DENIED"
        tag = "FAILED  " if c.failed else "DISAGREE"
        lines.append(f"{tag} {c.src} -> {c.dst} {report.protocol}/{c.port}: model {model}, kernel {c.kernel.describe()}")
        lines.append(f"    model: {c.reason}")
    if report.skipped:
        lines.append(f"skipped {len(report.skipped)} pod(s):")
        lines += [f"  {s.key}: {s.why}" for s in report.skipped]
    if not report.checks:
        lines.append("FAIL: nothing to probe (no pair of running local lab pods selected)")
    elif report.ok:
        lines.append(f"OK: the kernel agrees with the model on all {len(report.checks)} probes")
    else:
        lines.append(f"FAIL: {len(report.disagreements)} disagreement(s), {len(report.failures)} failed probe(s) "
                     f"of {len(report.checks)}")
    return "\n".join(lines)


def verify_report_to_dict(report: VerifyReport) -> dict[str, Any]:
    """JSON-ready form: summary, every probe with the model's verdict and reason, skipped pods."""
    agree = [c for c in report.checks if c.agrees]
    return {
        "mode": report.mode, "protocol": report.protocol, "ports": list(report.ports),
        "timeout": report.options.timeout, "settle": report.options.settle,
        "pods": [{"pod": p.key, "ip": p.ip, "node": p.node} for p in report.pods],
        "summary": {"probes": len(report.checks), "agree": len(agree), "disagree": len(report.disagreements),
                    "failed": len(report.failures), "allowed": sum(1 for c in agree if c.model_allowed),
                    "denied": sum(1 for c in agree if not c.model_allowed),
                    "retried": sum(1 for c in report.checks if c.retried), "ok": report.ok},
        "results": [{"from": c.src, "to": c.dst, "port": c.port,
                     "model": {"allowed": c.model_allowed, "reason": c.reason},
                     "kernel": {"outcome": c.kernel.outcome, "reached": c.kernel.reached,
                                "detail": c.kernel.detail, "retried": c.retried},
                     "agrees": c.agrees} for c in report.checks],
        "skipped": [{"pod": s.key, "why": s.why} for s in report.skipped],
    }
