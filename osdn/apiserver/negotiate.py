"""Content negotiation of response bodies: protobuf (`application/vnd.kubernetes.protobuf`) or JSON.

The Accept header is read in the client's order (highest `q` first, ties in order): when the first
media type the server serves is protobuf (client-go sends `application/vnd.kubernetes.protobuf,
application/json` for the built-in kinds), a kind of `osdn.api.protobuf`'s table is answered in the
`k8s\\x00` envelope. An object the table cannot carry (another kind, or a field the table lacks) is
answered as JSON when the Accept allows JSON, and with 406 NotAcceptable when it names protobuf only.
Tables (`as=Table`) are never protobuf: they are handled before and stay JSON.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from osdn.api import protobuf
from osdn.errors import NotAcceptableError, OsdnError

_OTHER = ("application/json", "application/yaml", "application/*", "*/*")
WATCH_MEDIA_TYPE = f"{protobuf.MEDIA_TYPE};stream=watch"


def _accepted(request: Request) -> list[str]:
    """The media types of the Accept header the server can answer, best first: `protobuf` or `other`."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(request.headers.get("accept", "").split(",")):
        kind, *params = (p.strip() for p in part.split(";"))
        named = dict(p.partition("=")[::2] for p in params)
        try:
            q = float(named.pop("q", "1"))
        except ValueError:
            continue
        named.pop("stream", None)        # `;stream=watch`: the same serializer, framed
        if kind.lower() == protobuf.MEDIA_TYPE and not named and q > 0:
            ranked.append((-q, i, "protobuf"))
        elif kind.lower() in _OTHER and q > 0:
            ranked.append((-q, i, "other"))
    return [name for _, _, name in sorted(ranked)]


def wants_protobuf(request: Request) -> bool:
    accepted = _accepted(request)
    return bool(accepted) and accepted[0] == "protobuf"


def accepts_other(request: Request) -> bool:
    """True when the Accept header also allows JSON (or YAML, or anything)."""
    return "other" in _accepted(request)


def protobuf_body(request: Request, obj: dict[str, Any]) -> bytes | None:
    """`obj` as a protobuf body when the client prefers protobuf and the table carries it; None when
    JSON is to be written instead; 406 when the client takes protobuf only and it cannot be carried."""
    if not wants_protobuf(request):
        return None
    try:
        return protobuf.encode_object(obj)
    except NotAcceptableError:
        if accepts_other(request):
            return None
        raise


def protobuf_response(request: Request, obj: dict[str, Any], status: int = 200,
                      headers: dict[str, str] | None = None) -> Response | None:
    body = protobuf_body(request, obj)
    return None if body is None else Response(body, status, headers, protobuf.MEDIA_TYPE)


def error_response(request: Request, error: OsdnError) -> Response | None:
    """An error's Status as protobuf when the client prefers it (a Status always fits), else None."""
    if not wants_protobuf(request):
        return None
    return Response(protobuf.encode_object(error.to_status()), error.code, None, protobuf.MEDIA_TYPE)
