"""Service account tokens: the signing key, the TokenRequest subresource, and authenticating the tokens.

The key is RSA 2048 in `DATA_DIR/pki/sa.key` (0600; made on first start; API servers sharing a data
dir share it: it is linked into place only if absent, so two starting servers agree on one key).
Tokens are RS256 JWTs whose header names the key id (`kid`: base64url of the SHA-256 of the public
key's DER, as kube-apiserver computes it); their claims are osdn.api.satoken's.

`ServiceAccountTokens.issue` answers `POST .../serviceaccounts/NAME/token` (the caller was authorized
for `create` on `serviceaccounts/token`); `authenticate` turns a presented token into the user
`system:serviceaccount:NS:NAME` with the groups `system:serviceaccounts`, `system:serviceaccounts:NS`
and `system:authenticated`, if the signature is ours, the claims hold now, the service account still
exists with the uid in the token (deleting it revokes its tokens) and so does the bound Pod or Secret.
`review` answers a TokenReview (osdn.apiserver.reviews) the same way, for the audiences it names.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.requests import Request

from osdn.api import protobuf, satoken
from osdn.api.registry import by_kind
from osdn.api.satoken import TokenOptions
from osdn.apiserver import bodies
from osdn.apiserver.auth import AUTHENTICATED, TokenFile, User
from osdn.apiserver.bodies import BodyLimits
from osdn.apiserver.resources import key_of
from osdn.errors import BadRequestError, ConflictError, NotFoundError, ObjectRef, UnauthorizedError
from osdn.store import Store

Obj = dict[str, Any]
KEY_FILE = "sa.key"
RSA_BITS = 2048


class SigningKey:
    """The RSA key that signs and verifies service account tokens."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.key, self.public = key, key.public_key()
        der = self.public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.key_id = satoken.b64url(hashlib.sha256(der).digest())

    @classmethod
    def load_or_create(cls, pki: Path) -> SigningKey:
        pki.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = pki / KEY_FILE
        if not path.exists():
            _link_new_key(path)
        key = serialization.load_pem_private_key(path.read_bytes(), None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} is not an RSA private key")
        return cls(key)

    def sign(self, claims: Obj) -> str:
        header = {"alg": satoken.ALGORITHM, "kid": self.key_id}
        head, body = (satoken.b64url(json.dumps(p, separators=(",", ":")).encode()) for p in (header, claims))
        signature = self.key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{head}.{body}.{satoken.b64url(signature)}"

    def verify(self, token: str) -> Obj:
        """The claims of a token this key signed; UnauthorizedError otherwise."""
        parts = satoken.split_token(token, self.key_id)
        try:
            self.public.verify(parts.signature, parts.signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise UnauthorizedError("Unauthorized: the service account token's signature is not valid") from None
        return parts.claims


def _link_new_key(path: Path) -> None:
    """Write a new key next to `path` and link it into place unless another server did first."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    try:
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink()


async def read_token_request(request: Request, limits: BodyLimits) -> Obj:
    """The TokenRequest body: JSON, YAML, or protobuf (kubectl's typed client sends protobuf)."""
    if bodies.media_type(request) != protobuf.MEDIA_TYPE:
        return await bodies.read_object(request, limits, None)
    return protobuf.decode_object(await bodies.read_raw(request, limits), protobuf.TOKEN_REQUEST_KINDS)


def _rfc3339(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ServiceAccountTokens:
    """Issue and authenticate service account tokens against the store; `clock` gives unix seconds."""

    def __init__(self, store: Store, key: SigningKey, options: TokenOptions | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.key, self.options, self.clock = store, key, options or TokenOptions(), clock

    def _get(self, kind: str, namespace: str, name: str) -> Obj:
        return self.store.get(key_of(by_kind(kind), namespace, name))

    def issue(self, namespace: str, name: str, body: Obj, dry_run: bool = False) -> Obj:
        """The TokenRequest answer (kube's shape: the request, defaulted, with status.token)."""
        spec = satoken.parse_token_request(body, self.options.audiences, self.options.max_expiration)
        account = self._get("ServiceAccount", namespace, name)
        bound = None if spec.bound is None else self._bound_ref(namespace, name, spec.bound)
        spec = satoken.TokenRequestSpec(spec.audiences, spec.expiration_seconds, bound)
        now = int(self.clock())
        issue = satoken.Issue(self.options.issuer, namespace, satoken.Ref("ServiceAccount", name,
                                                                           account["metadata"].get("uid", "")),
                              spec, now, str(uuid.uuid4()))
        claims = satoken.claims(issue)
        meta = body.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        return {"kind": "TokenRequest", "apiVersion": satoken.API_VERSION,
                "metadata": {**meta, "name": name, "namespace": namespace, "creationTimestamp": None},
                "spec": spec.to_obj(),
                "status": {"token": "" if dry_run else self.key.sign(claims),
                           "expirationTimestamp": _rfc3339(claims["exp"])}}

    def _bound_ref(self, namespace: str, name: str, ref: satoken.Ref) -> satoken.Ref:
        """The bound Pod or Secret as it is now (kube's checks: same service account, same uid)."""
        obj = self._get(ref.kind, namespace, ref.name)
        uid = str(obj["metadata"].get("uid") or "")
        if ref.kind == "Pod":
            spec = obj.get("spec") or {}
            runs_as = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
            if runs_as != name:
                raise BadRequestError(f'cannot bind token for serviceaccount "{name}" to pod "{ref.name}" running '
                                      f'with serviceaccount "{runs_as}"')
        if ref.uid and ref.uid != uid:
            raise ConflictError(f'Operation cannot be fulfilled on {ref.kind} "{ref.name}": the UID in the bound '
                                f"object reference ({ref.uid}) does not match the UID in record. The object might "
                                "have been deleted and then recreated", ObjectRef(ref.kind, ref.name, namespace))
        return satoken.Ref(ref.kind, ref.name, uid)

    def authenticate(self, token: str, audiences: Sequence[str] = ()) -> User:
        """The user of a valid token meant for `audiences` (default: the API server's)."""
        subject = satoken.check_claims(self.key.verify(token), int(self.clock()), self.options.issuer,
                                       audiences or self.options.audiences)
        account = subject.account
        self._still_there(subject.namespace, account, f"service account {subject.namespace}/{account.name}")
        if subject.bound is not None:
            self._still_there(subject.namespace, subject.bound,
                              f"{subject.bound.kind.lower()} {subject.namespace}/{subject.bound.name} it is bound to")
        return User(satoken.username(subject.namespace, account.name),
                    (*satoken.groups_of(subject.namespace), AUTHENTICATED))

    def review(self, token: str, audiences: Sequence[str], tokens: TokenFile) -> Obj:
        """A TokenReview's status for any bearer token this server accepts (a ServiceAccount token
        meant for one of `audiences`, default the server's; an `osdn adm token` token for the server)."""
        wanted = tuple(audiences) or self.options.audiences
        try:
            if satoken.looks_like_jwt(token):
                user = self.authenticate(token, wanted)
                aud = json.loads(satoken.unb64url(token.split(".")[1])).get("aud")
                matched = [a for a in wanted if a in ([aud] if isinstance(aud, str) else aud)]
            else:
                matched = [a for a in wanted if a in self.options.audiences]
                if not matched:
                    raise UnauthorizedError(f"Unauthorized: the token is valid only for {list(self.options.audiences)}")
                user = tokens.authenticate(token)
        except UnauthorizedError as e:
            return {"authenticated": False, "user": {}, "error": e.message}
        return {"authenticated": True, "user": {"username": user.name, "groups": list(user.groups)},
                "audiences": matched}

    def _still_there(self, namespace: str, ref: satoken.Ref, what: str) -> None:
        try:
            meta = self._get(ref.kind, namespace, ref.name)["metadata"]
        except NotFoundError:
            raise UnauthorizedError(f"Unauthorized: the token was revoked: the {what} was deleted") from None
        if meta.get("uid") != ref.uid:
            raise UnauthorizedError(f"Unauthorized: the token was revoked: the {what} was deleted "
                                    f"(uid {meta.get('uid')} is not the token's {ref.uid})")
        if meta.get("deletionTimestamp"):
            raise UnauthorizedError(f"Unauthorized: the token was revoked: the {what} is being deleted")
