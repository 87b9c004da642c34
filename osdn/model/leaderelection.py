"""Leader election on a Lease, as client-go's leaderelection decides it. Pure: every time is an argument.

A candidate reads the Lease and calls `observe` (when the record changed, it notes *its own* monotonic
time: expiry is judged by the candidate's clock since it last saw a change, never by comparing the
holder's timestamps with ours, so clock skew between machines does not matter). `decide` says what to
write: create the Lease, take it over (its holder is empty, or the record has not changed for
`leaseDurationSeconds`), renew it (we hold it), or wait. The write is an update with the observed
resourceVersion, so of two candidates deciding at once only one succeeds.

A leader renews every `retry_period`; when it has not renewed for `renew_deadline` it stops leading
(`still_leading`) before anyone may take over (`renew_deadline` < `lease_duration`): the controllers
stop before the lease can expire. Its writes are fenced besides (osdn.store.fence).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class ElectionConfig:
    lease_duration: int = 6        # seconds a lease lasts without renewal (Lease leaseDurationSeconds)
    renew_deadline: float = 4.0    # a leader that could not renew for this long stops leading
    retry_period: float = 1.0      # seconds between tries (renewals, and attempts to acquire)

    def problem(self) -> str | None:
        """Why this configuration is unsafe, or None (client-go's checks)."""
        if self.lease_duration <= self.renew_deadline:
            return (f"--leader-elect-lease-duration ({self.lease_duration}s) must be greater than "
                    f"--leader-elect-renew-deadline ({self.renew_deadline}s)")
        if self.renew_deadline <= 1.2 * self.retry_period:
            return (f"--leader-elect-renew-deadline ({self.renew_deadline}s) must be greater than 1.2 x "
                    f"--leader-elect-retry-period ({self.retry_period}s)")
        if self.retry_period <= 0:
            return f"--leader-elect-retry-period ({self.retry_period}s) must be positive"
        return None


@dataclass(frozen=True)
class Observation:
    """The Lease as last read, and our monotonic time when its resourceVersion last changed."""

    spec: Obj
    rv: str
    at: float


@dataclass(frozen=True)
class Decision:
    action: str                    # "create" | "update" | "wait"
    spec: Obj | None = None        # the Lease spec to write
    reason: str = ""


def observe(previous: Observation | None, lease: Obj, now: float) -> Observation:
    """Note `lease` as read at `now`; an unchanged resourceVersion keeps the time it was first seen."""
    rv = str(lease["metadata"].get("resourceVersion") or "")
    if previous is not None and previous.rv == rv:
        return previous
    return Observation(dict(lease.get("spec") or {}), rv, now)


def expires_at(obs: Observation) -> float:
    """Our monotonic time at which the observed holding ends unless renewed."""
    return obs.at + float(obs.spec.get("leaseDurationSeconds") or 0)


def decide(obs: Observation | None, identity: str, now: float, wall_time: str,
           cfg: ElectionConfig) -> Decision:
    """What `identity` should write at monotonic `now` (`wall_time`: MicroTime text for the record)."""
    if obs is None:
        return Decision("create", _spec(identity, cfg, wall_time, wall_time, 0), "no lease yet")
    holder = str(obs.spec.get("holderIdentity") or "")
    if holder and holder != identity and now < expires_at(obs):
        return Decision("wait", None, f"held by {holder}")
    transitions = int(obs.spec.get("leaseTransitions") or 0)
    if holder == identity:
        acquired = str(obs.spec.get("acquireTime") or wall_time)
        return Decision("update", _spec(identity, cfg, acquired, wall_time, transitions), "renew")
    why = f"taking over from {holder} (not renewed for {obs.spec.get('leaseDurationSeconds')}s)" if holder \
        else "the lease is free"
    return Decision("update", _spec(identity, cfg, wall_time, wall_time, transitions + 1), why)


def still_leading(last_renew: float, now: float, cfg: ElectionConfig) -> bool:
    """A leader whose last successful renewal was at `last_renew` may act at `now`."""
    return now - last_renew < cfg.renew_deadline


def release_spec(obs: Observation, wall_time: str) -> Obj:
    """The spec a leader writes when it stops on purpose: no holder, so another may take over at once."""
    return {**obs.spec, "holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": wall_time}


def _spec(identity: str, cfg: ElectionConfig, acquired: str, renewed: str, transitions: int) -> Obj:
    return {"holderIdentity": identity, "leaseDurationSeconds": cfg.lease_duration, "acquireTime": acquired,
            "renewTime": renewed, "leaseTransitions": transitions}
