"""Leader-election options of `osdn server` and `osdn master` (kube-controller-manager's flag names).

`election_options(default)` adds them to a click command and hands it one keyword argument, `election`:
an ElectionConfig, or None with --no-leader-elect (the controllers then run unconditionally: one master
only). `osdn server` defaults to electing only with an etcd store (a SQLite data dir has one server);
`osdn master` always elects unless told not to.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from osdn.errors import BadRequestError
from osdn.model.leaderelection import ElectionConfig

_D = ElectionConfig()
_OPTIONS = [
    click.option("--leader-elect-lease-duration", type=click.IntRange(min=1), default=_D.lease_duration,
                 show_default=True, help="Seconds a leader's Lease lasts without renewal (takeover time)."),
    click.option("--leader-elect-renew-deadline", type=click.FloatRange(min=0.1), default=_D.renew_deadline,
                 show_default=True, help="Seconds a leader keeps acting without a successful renewal."),
    click.option("--leader-elect-retry-period", type=click.FloatRange(min=0.05), default=_D.retry_period,
                 show_default=True, help="Seconds between renewals and between attempts to acquire."),
]


def election_options(default: bool | None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`default` None: elect when the command's `store` keyword names etcd (osdn server)."""
    elect = click.option(
        "--leader-elect/--no-leader-elect", default=default, show_default=default is not None,
        help="Run the master controllers only while this process holds the Lease kube-system/osdn-master "
             "(several servers on one etcd: exactly one runs them)" +
             ("; default: on with --store etcd, off with SQLite." if default is None else "."))

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def wrapper(*args: Any, leader_elect: bool | None, leader_elect_lease_duration: int,
                    leader_elect_renew_deadline: float, leader_elect_retry_period: float, **kwargs: Any) -> Any:
            cfg = ElectionConfig(leader_elect_lease_duration, leader_elect_renew_deadline,
                                 leader_elect_retry_period)
            if leader_elect is None:
                leader_elect = kwargs.get("store") is not None
            problem = cfg.problem()
            if leader_elect and problem:
                raise BadRequestError(problem)
            return command(*args, election=cfg if leader_elect else None, **kwargs)

        for option in reversed([elect, *_OPTIONS]):
            wrapper = option(wrapper)
        return wrapper
    return decorate
