"""Service account tokens, as kube-apiserver's bound tokens: the TokenRequest, the JWT claims, their checks. Pure.

`parse_token_request` reads an authentication.k8s.io/v1 TokenRequest body as kube-apiserver's
TokenREST does: `spec.audiences` (default: the API server's audiences), `spec.expirationSeconds`
(default 3600, at least 600 and at most 2^32, then capped to the server's maximum, as
`--service-account-max-token-expiration`) and an optional `spec.boundObjectRef` to a v1 Pod or Secret.

`claims` builds kube's claim set (pkg/serviceaccount/claims.go): iss, sub
`system:serviceaccount:NS:NAME`, aud, iat, nbf, exp, jti and the private claim `kubernetes.io` with
namespace, serviceaccount {name, uid} and, when bound, pod or secret {name, uid}.

`split_token` and `check_claims` judge a presented token before and after its signature is verified:
the size is capped (`MAX_TOKEN_BYTES`), every part must decode, the header must name the one
algorithm the server signs with, the issuer must be ours, the time window must hold (`now` is passed
in, with kube's 60 s leeway for clock skew) and one audience must be one the server accepts.
Every refusal is an UnauthorizedError naming what was wrong; nothing else escapes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from osdn.api.decode import decode_json
from osdn.errors import BadRequestError, FieldError, ObjectRef, OsdnError, UnauthorizedError, ValidationError

Obj = dict[str, Any]
GROUP = "authentication.k8s.io"
API_VERSION = f"{GROUP}/v1"
MIN_EXPIRATION = 600                 # kube: "may not specify a duration less than 10 minutes"
DEFAULT_EXPIRATION = 3600            # kube's TokenRequestSpec default
LIMIT_EXPIRATION = 1 << 32           # kube: "may not specify a duration larger than 2^32 seconds"
MAX_TOKEN_BYTES = 8192               # a token longer than this is refused before any decoding
LEEWAY = 60                          # seconds of clock skew accepted for exp and nbf (go-jose's DefaultLeeway)
ALGORITHM = "RS256"
ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"
DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
_BINDABLE = ("Pod", "Secret")


@dataclass(frozen=True)
class TokenOptions:
    """kube-apiserver's --service-account-issuer, --api-audiences, --service-account-max-token-expiration."""

    issuer: str = DEFAULT_ISSUER
    audiences: tuple[str, ...] = (DEFAULT_ISSUER,)
    max_expiration: int = 24 * 3600


def username(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def groups_of(namespace: str) -> tuple[str, str]:
    return ALL_SERVICE_ACCOUNTS, f"{ALL_SERVICE_ACCOUNTS}:{namespace}"


@dataclass(frozen=True)
class Ref:
    """An object a token is bound to (or the service account itself): kind, name, uid."""

    kind: str
    name: str
    uid: str = ""


@dataclass(frozen=True)
class TokenRequestSpec:
    audiences: tuple[str, ...]
    expiration_seconds: int
    bound: Ref | None = None

    def to_obj(self) -> Obj:
        ref = None if self.bound is None else {"kind": self.bound.kind, "apiVersion": "v1",
                                                "name": self.bound.name, **({"uid": self.bound.uid}
                                                                            if self.bound.uid else {})}
        return {"audiences": list(self.audiences), "expirationSeconds": self.expiration_seconds,
                "boundObjectRef": ref}


def _invalid(field: str, value: Any, why: str) -> ValidationError:
    shown = f'"{value}"' if isinstance(value, str) else value
    cause = FieldError(field, f"Invalid value: {shown}: {why}")
    return ValidationError(f'TokenRequest.{GROUP} "" is invalid: {cause}', ObjectRef("TokenRequest", group=GROUP),
                           [cause])


def _audiences(spec: Obj, default: Sequence[str]) -> tuple[str, ...]:
    value = spec.get("audiences")
    if value in (None, []):
        return tuple(default)
    if not isinstance(value, list) or not all(isinstance(a, str) and a for a in value):
        raise _invalid("spec.audiences", value, "must be a list of non-empty strings")
    return tuple(value)


def _expiration(spec: Obj, maximum: int) -> int:
    value = spec.get("expirationSeconds")
    if value is None:
        value = DEFAULT_EXPIRATION
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid("spec.expirationSeconds", value, "must be an integer number of seconds")
    if value < MIN_EXPIRATION:
        raise _invalid("spec.expirationSeconds", value, "may not specify a duration less than 10 minutes")
    if value > LIMIT_EXPIRATION:
        raise _invalid("spec.expirationSeconds", value, "may not specify a duration larger than 2^32 seconds")
    return min(value, maximum) if maximum > 0 else value


def _bound(spec: Obj) -> Ref | None:
    ref = spec.get("boundObjectRef")
    if ref is None:
        return None
    if not isinstance(ref, dict) or not all(isinstance(ref.get(k, ""), str) for k in ("kind", "apiVersion", "name",
                                                                                       "uid")):
        raise _invalid("spec.boundObjectRef", "", "must be an object of string fields kind, apiVersion, name, uid")
    kind, version = ref.get("kind") or "", ref.get("apiVersion") or ""
    if kind not in _BINDABLE or version != "v1":
        raise BadRequestError(f'cannot bind token to object of type {version or "<none>"}, Kind={kind}: '
                              "only v1 Pods and Secrets")
    if not ref.get("name"):
        raise _invalid("spec.boundObjectRef.name", "", "Required value")
    return Ref(kind, ref["name"], ref.get("uid") or "")


def parse_token_request(body: Obj, default_audiences: Sequence[str], max_expiration: int) -> TokenRequestSpec:
    """The request's spec, defaulted, validated and capped as kube-apiserver does (see the module)."""
    if body.get("kind", "TokenRequest") != "TokenRequest" or body.get("apiVersion", API_VERSION) != API_VERSION:
        raise BadRequestError(f'the body must be a TokenRequest of {API_VERSION}, got {body.get("kind")!r} of '
                              f'{body.get("apiVersion")!r}')
    spec = body.get("spec") or {}
    if not isinstance(spec, dict):
        raise _invalid("spec", "", "must be an object")
    return TokenRequestSpec(_audiences(spec, default_audiences), _expiration(spec, max_expiration), _bound(spec))


@dataclass(frozen=True)
class Issue:
    """Everything a token's claims say: who issues it, for which service account, when."""

    issuer: str
    namespace: str
    account: Ref
    spec: TokenRequestSpec
    now: int
    jti: str


def claims(issue: Issue) -> Obj:
    """kube's claim set for a service account token (pkg/serviceaccount/claims.go)."""
    private: Obj = {"namespace": issue.namespace,
                    "serviceaccount": {"name": issue.account.name, "uid": issue.account.uid}}
    if issue.spec.bound is not None:
        private[issue.spec.bound.kind.lower()] = {"name": issue.spec.bound.name, "uid": issue.spec.bound.uid}
    return {"aud": list(issue.spec.audiences), "exp": issue.now + issue.spec.expiration_seconds,
            "iat": issue.now, "iss": issue.issuer, "jti": issue.jti, "kubernetes.io": private,
            "nbf": issue.now, "sub": username(issue.namespace, issue.account.name)}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """base64url without padding; ValueError for anything else."""
    if not text or any(c in text for c in "=+/"):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def looks_like_jwt(token: str) -> bool:
    """A JWS in compact form has three dot-separated parts (osdn's other tokens have no dot)."""
    return token.count(".") == 2


@dataclass(frozen=True)
class Parts:
    """A compact JWS split and decoded: what is signed, the signature, the header and the claims."""

    signed: bytes
    signature: bytes
    header: Obj
    claims: Obj


def _json_object(data: bytes, what: str) -> Obj:
    try:
        value = decode_json(data).value
    except OsdnError:
        value = None
    if not isinstance(value, dict):
        raise UnauthorizedError(f"Unauthorized: the service account token's {what} is not a JSON object")
    return value


def split_token(token: str, key_id: str) -> Parts:
    """Decode a presented token (signature not yet checked); UnauthorizedError if malformed."""
    if len(token) > MAX_TOKEN_BYTES:
        raise UnauthorizedError(f"Unauthorized: the bearer token is longer than {MAX_TOKEN_BYTES} bytes")
    head, body, sig = token.split(".") if looks_like_jwt(token) else ("", "", "")
    try:
        header_raw, claims_raw, signature = unb64url(head), unb64url(body), unb64url(sig)
    except (ValueError, binascii.Error):
        raise UnauthorizedError("Unauthorized: the bearer token is not a valid JWT (three base64url parts)") from None
    header = _json_object(header_raw, "header")
    if header.get("alg") != ALGORITHM or header.get("kid", key_id) != key_id:
        raise UnauthorizedError(f"Unauthorized: the service account token was not signed by this server "
                                f"(alg {str(header.get('alg'))[:20]!r}, kid {str(header.get('kid'))[:64]!r})")
    return Parts(f"{head}.{body}".encode(), signature, header, _json_object(claims_raw, "claim set"))


@dataclass(frozen=True)
class Subject:
    """Whom a valid token speaks for: the service account, and the object it is bound to, if any."""

    namespace: str
    account: Ref
    bound: Ref | None = None


def _int_claim(claim_set: Obj, name: str) -> int:
    value = claim_set.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnauthorizedError(f"Unauthorized: the service account token has no numeric {name!r} claim")
    return int(value)


def _check_time(claim_set: Obj, now: int) -> None:
    exp, nbf = _int_claim(claim_set, "exp"), _int_claim(claim_set, "nbf")
    if now > exp + LEEWAY:
        raise UnauthorizedError(f"Unauthorized: the service account token has expired ({now - exp} s ago)")
    if now + LEEWAY < nbf:
        raise UnauthorizedError("Unauthorized: the service account token is not valid yet")


def _check_audience(claim_set: Obj, accepted: Sequence[str]) -> None:
    aud = claim_set.get("aud")
    auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(isinstance(a, str) and a in accepted for a in auds):
        raise UnauthorizedError("Unauthorized: the service account token is not meant for this server (its "
                                f"audiences {[str(a)[:64] for a in auds[:5]]} are none of {list(accepted)})")


def _ref(value: Any, kind: str) -> Ref | None:
    if not isinstance(value, dict):
        return None
    name, uid = value.get("name"), value.get("uid")
    return Ref(kind, name, uid) if isinstance(name, str) and isinstance(uid, str) and name else None


def check_claims(claim_set: Obj, now: int, issuer: str, accepted: Sequence[str]) -> Subject:
    """The subject of a token whose signature was verified, if its claims hold at `now`."""
    if claim_set.get("iss") != issuer:
        raise UnauthorizedError(f"Unauthorized: the service account token was issued by "
                                f"{str(claim_set.get('iss'))[:100]!r}, not {issuer!r}")
    _check_time(claim_set, now)
    _check_audience(claim_set, accepted)
    private = claim_set.get("kubernetes.io")
    private = private if isinstance(private, dict) else {}
    namespace, account = private.get("namespace"), _ref(private.get("serviceaccount"), "ServiceAccount")
    if not isinstance(namespace, str) or account is None or claim_set.get("sub") != username(namespace, account.name):
        raise UnauthorizedError("Unauthorized: the service account token names no service account")
    bound = _ref(private.get("pod"), "Pod") or _ref(private.get("secret"), "Secret")
    return Subject(namespace, account, bound)
