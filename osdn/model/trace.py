"""Rendering of verdicts and matrices for people and programs (`osdn adm trace` / `reachability`).

Pure: returns strings and plain dicts; the CLI prints them.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from osdn.model.matrix import Matrix
from osdn.model.multicast import MulticastResult
from osdn.model.verdict import Verdict


def render_trace(verdict: Verdict) -> str:
    """The verdict, then its steps numbered in order; a service shows each endpoint's steps indented."""
    conn = verdict.connection
    lines = [f"{conn.describe()}: {'ALLOWED' if verdict.allowed else 'DENIED'}"]
    lines += _steps(verdict, "  ")
    for n, b in enumerate(verdict.backends, 1):
        lines.append(f"  endpoint {n}: {b.connection.dst.describe()} port {b.connection.port}: "
                     f"{'ALLOWED' if b.allowed else 'DENIED'}")
        lines += _steps(b, "    ")
    if verdict.allowed and verdict.target:
        src = f" with source {verdict.source_ip}" if verdict.source_ip else ""
        lines.append(f"delivered to {verdict.target}{src}")
    return "\n".join(lines)


def _steps(verdict: Verdict, indent: str) -> list[str]:
    return [f"{indent}{n}. {step}" for n, step in enumerate(verdict.steps, 1)]


def verdict_to_dict(verdict: Verdict) -> dict[str, Any]:
    """JSON-ready form of a verdict."""
    conn = verdict.connection
    return {
        "from": conn.src.describe(), "to": conn.dst.describe(), "protocol": conn.protocol, "port": conn.port,
        "allowed": verdict.allowed, "reason": verdict.reason,
        "sourceIP": str(verdict.source_ip) if verdict.source_ip else None, "target": verdict.target,
        "steps": [{"stage": s.stage, "verdict": s.verdict, "object": s.ref, "rule": s.rule, "detail": s.detail}
                  for s in verdict.steps],
        "endpoints": [verdict_to_dict(b) for b in verdict.backends],
    }


def matrix_to_dict(matrix: Matrix) -> dict[str, Any]:
    """`{"probe": {...}, "results": [{"from", "to", "allowed", "reason"}]}` over every ordered pair."""
    return {
        "probe": {"port": matrix.port, "protocol": matrix.protocol},
        "results": [{"from": c.src, "to": c.dst, "allowed": c.allowed, "reason": c.reason} for c in matrix.cells()],
    }


def render_matrix_table(matrix: Matrix) -> str:
    """A readable matrix: rows are sources, columns destinations (numbered), `.` allowed, `X` denied."""
    pods = matrix.pods
    width = max((len(p) for p in pods), default=4)
    nums = [str(n) for n in range(1, len(pods) + 1)]
    colw = max((len(x) for x in nums), default=1)
    corner = "from \\ to"
    head = f"{corner:<{width + colw + 2}} " + " ".join(f"{x:>{colw}}" for x in nums)
    lines = [f"probe {matrix.protocol}/{matrix.port}   . = allowed, X = denied, - = self", head]
    for a, p in enumerate(pods):
        cells = ["-" if a == b else "." if matrix.allowed[a][b] else "X" for b in range(len(pods))]
        lines.append(f"{nums[a]:>{colw}}  {p:<{width}} " + " ".join(f"{c:>{colw}}" for c in cells))
    total = len(pods) * (len(pods) - 1)
    ok = sum(sum(row) for row in matrix.allowed)
    lines.append(f"{ok} of {total} connections allowed")
    return "\n".join(lines)


def is_multicast_group(text: str) -> bool:
    """Whether a trace destination is an IPv4 multicast group (traced as receivers, not a connection)."""
    try:
        return ipaddress.IPv4Address(text).is_multicast
    except ValueError:
        return False


def multicast_to_dict(result: MulticastResult, group: str) -> dict[str, Any]:
    return {"from": result.sender, "group": group, "receivers": list(result.receivers),
            "steps": [str(s) for s in result.steps]}


def render_multicast(result: MulticastResult, group: str) -> str:
    """The sender, its receivers' count, the numbered steps, then each receiver."""
    lines = [f"multicast from pod {result.sender} to group {group}: {len(result.receivers)} receiver(s)"]
    lines += [f"  {n}. {step}" for n, step in enumerate(result.steps, 1)]
    lines += [f"  -> {r}" for r in result.receivers]
    return "\n".join(lines)
