"""`/osdn/v1/tokens`: create, list and revoke bearer tokens (cluster admins only), and `/metrics`.

POST `{"user": U, "groups": [...], "expiresIn": "24h"}` answers the raw token once, with its id;
GET lists `{"id", "user", "groups", "created", "expires"}` (never a token); DELETE
`/osdn/v1/tokens/{id}` revokes the token whose id starts with `id` (at least 6 characters).
`/metrics` needs a token whose user may `get` the non-resource URL `/metrics` (cluster admins, or
the `system:monitoring` role).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from osdn.api.duration import parse_duration
from osdn.apiserver.auth import Attributes, Authorizer, TokenFile, User
from osdn.errors import BadRequestError, ForbiddenError, OsdnError

UserOf = Callable[[Request], User]
BodyOf = Callable[[Request], Awaitable[dict[str, Any]]]
Handler = Callable[[Request], Awaitable[Response]]


def parse_expires_in(value: Any) -> float | None:
    """`expiresIn` of a token request: a duration (`24h`, `90m`) or seconds; None: never expires."""
    if value in (None, ""):
        return None
    seconds = parse_duration(value, bare_seconds=True)
    if seconds is None or seconds <= 0:
        raise BadRequestError(f'expiresIn: Invalid value: {value!r}: must be a positive duration such as "24h" '
                              "or a number of seconds")
    return seconds


def _admin(user_of: UserOf, request: Request, verb: str) -> User:
    user = user_of(request)
    if not user.is_cluster_admin:
        raise ForbiddenError(f'User "{user.name}" cannot {verb} tokens: only cluster admins can')
    return user


def _guard(handler: Handler) -> Handler:
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except OsdnError as e:
            return JSONResponse(e.to_status(), e.code)
    return run


def token_routes(tokens: TokenFile, user_of: UserOf, body_of: BodyOf, authorizer: Authorizer) -> list[Route]:
    """The routes; `user_of` authenticates a request, `body_of` reads its JSON object (the API's limits)."""
    async def collection(request: Request) -> Response:
        if request.method == "GET":
            _admin(user_of, request, "list")
            return JSONResponse({"kind": "TokenList", "apiVersion": "osdn/v1",
                                 "items": [r.to_obj() for r in tokens.list()]})
        _admin(user_of, request, "create")
        body = await body_of(request)
        name = str(body.get("user") or "")
        groups = tuple(str(g) for g in body.get("groups") or ())
        raw = tokens.create(name, groups, parse_expires_in(body.get("expiresIn")))
        record = tokens.record_of(raw)
        return JSONResponse({**record.to_obj(), "token": raw}, 201)

    async def one(request: Request) -> Response:
        _admin(user_of, request, "revoke")
        return JSONResponse({"kind": "Status", "apiVersion": "v1", "status": "Success",
                             "details": tokens.revoke(request.path_params["token_id"]).to_obj()})

    async def metrics(request: Request) -> Response:
        authorizer.check(user_of(request), Attributes("get", "", "", path="/metrics"))
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return [Route("/osdn/v1/tokens", _guard(collection), methods=["GET", "POST"]),
            Route("/osdn/v1/tokens/{token_id}", _guard(one), methods=["DELETE"]),
            Route("/metrics", _guard(metrics))]
