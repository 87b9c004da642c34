"""`osdn describe quota`: kubectl's text for a ResourceQuota (Name, Namespace, Scopes, then a
Resource / Used / Hard table of status.used and status.hard for every resource of spec.hard). Pure."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
SCOPE_NOTES = {
    "Terminating": "Matches all pods that have an active deadline. These pods have a limited lifespan on a node "
                   "before being actively terminated by the system.",
    "NotTerminating": "Matches all pods that do not have an active deadline. These pods usually include long "
                      "running pods whose container command is not expected to terminate.",
    "BestEffort": "Matches all pods that do not have resource requirements set. These pods have a best effort "
                  "quality of service.",
    "NotBestEffort": "Matches all pods that have at least one resource requirement set. These pods have a "
                     "burstable or guaranteed quality of service.",
}


def describe_quota(quota: Obj) -> str:
    """Pure: kubectl's `describe quota` text: name, namespace, scopes, then Resource/Used/Hard rows."""
    meta, spec, status = quota.get("metadata") or {}, quota.get("spec") or {}, quota.get("status") or {}
    head = [("Name:", str(meta.get("name"))), ("Namespace:", str(meta.get("namespace")))]
    rows = [("Resource", "Used", "Hard"), ("--------", "----", "----")] + [
        (n, str((status.get("used") or {}).get(n, "")), str((status.get("hard") or {}).get(n, "")))
        for n in sorted(spec.get("hard") or {})]
    scopes = sorted(spec.get("scopes") or [])
    # kubectl's tabwriter aligns each block of lines with tabs: a scope's note ends the first block
    width = max(len(c) for c in [h for h, _ in head] + (["Scopes:"] if scopes else [r[0] for r in rows])) + 2
    lines = [f"{h:<{width}}{v}" for h, v in head]
    if scopes:
        lines.append(f"{'Scopes:':<{width}}{', '.join(scopes)}")
        lines += [f" * {SCOPE_NOTES[s]}" for s in scopes if s in SCOPE_NOTES]
    if scopes:
        width = max(len(r[0]) for r in rows) + 2
    used_width = max(len(r[1]) for r in rows) + 2
    lines += [f"{r[0]:<{width}}{r[1]:<{used_width}}{r[2]}".rstrip() for r in rows]
    return "\n".join(lines)
