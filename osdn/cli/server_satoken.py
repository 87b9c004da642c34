"""`osdn server` options of ServiceAccount tokens, as kube-apiserver's: --service-account-issuer,
--api-audiences, --service-account-max-token-expiration (osdn.apiserver.satoken.TokenOptions).
`token_options` is pure."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from osdn.api.duration import parse_duration
from osdn.api.satoken import DEFAULT_ISSUER, LIMIT_EXPIRATION, TokenOptions
from osdn.errors import BadRequestError

MIN_MAX_EXPIRATION = 3600      # kube: "must be between 1 hour and 2^32 seconds"


def token_options(issuer: str, audiences: tuple[str, ...], max_expiration: str) -> TokenOptions:
    """Pure: the flags as TokenOptions, or BadRequestError naming the flag and the value."""
    if not issuer.strip():
        raise BadRequestError("--service-account-issuer must not be empty")
    if any(not a.strip() for a in audiences):
        raise BadRequestError("--api-audiences must not hold an empty audience")
    seconds = parse_duration(max_expiration)
    if seconds is None or not MIN_MAX_EXPIRATION <= seconds <= LIMIT_EXPIRATION:
        raise BadRequestError(f'--service-account-max-token-expiration "{max_expiration}": must be a duration '
                              "between 1h and 2^32 seconds")
    return TokenOptions(issuer, audiences or (issuer,), int(seconds))


_OPTIONS = [
    click.option("--service-account-issuer", "sa_issuer", default=DEFAULT_ISSUER, show_default=True,
                 help="The `iss` of ServiceAccount tokens this server mints and accepts."),
    click.option("--api-audiences", "sa_audiences", multiple=True, metavar="AUD",
                 help="Audiences a ServiceAccount token must name to be accepted here, and the default of a "
                      "TokenRequest (repeatable; default: the issuer)."),
    click.option("--service-account-max-token-expiration", "sa_max_expiration", default="24h", show_default=True,
                 metavar="DURATION", help="Longest ServiceAccount token minted; longer requests are cut to it."),
]


def service_account_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds the options; the command gets them as one `service_accounts: TokenOptions`."""
    @functools.wraps(command)
    def wrapper(*args: Any, sa_issuer: str, sa_audiences: tuple[str, ...], sa_max_expiration: str,
                **kwargs: Any) -> Any:
        try:
            options = token_options(sa_issuer, sa_audiences, sa_max_expiration)
        except BadRequestError as e:
            raise click.UsageError(e.message) from None
        return command(*args, service_accounts=options, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper
