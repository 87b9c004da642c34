"""The one error hierarchy of osdn.

Every error knows the HTTP status and kube `Status.reason` it maps to, so the API server can answer
with a kube-style Status object and the client can turn that Status back into the same exception.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of an object; `field` is a kube-style path (`spec.egress[3].type`)."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass
class ObjectRef:
    """Which object an error is about (all parts optional)."""

    kind: str = ""
    name: str = ""
    namespace: str = ""
    group: str = ""

    def describe(self) -> str:
        parts = []
        if self.kind:
            parts.append(self.kind)
        if self.name:
            parts.append(f'"{self.name}"')
        text = " ".join(parts)
        if self.namespace:
            text += f' in project "{self.namespace}"'
        return text


class OsdnError(Exception):
    code = 500
    reason = "InternalError"
    from_server = False  # True when rebuilt by the client from a server's Status

    def __init__(self, message: str, ref: ObjectRef | None = None,
                 causes: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.ref = ref or ObjectRef()
        self.causes = list(causes or [])

    def to_status(self) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if self.ref.name:
            details["name"] = self.ref.name
        if self.ref.group:
            details["group"] = self.ref.group
        if self.ref.kind:
            details["kind"] = self.ref.kind
        if self.causes:
            details["causes"] = [{"reason": c.reason, "message": c.message, "field": c.field}
                                 for c in self.causes]
        status: dict[str, Any] = {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        }
        if details or self.code == 404:   # kube's NotFound always has details (kubectl debug reads .Name)
            status["details"] = details
        return _encodable(status)


def _encodable(value: Any) -> Any:
    """`value` with every string made UTF-8-encodable: a message that quotes hostile input (a lone
    surrogate from a YAML escape) must still render, as `\\ud800`, rather than fail the response."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encodable(v) for v in value]
    return value


class BadRequestError(OsdnError):
    code = 400
    reason = "BadRequest"


class UnauthorizedError(OsdnError):
    code = 401
    reason = "Unauthorized"


class ForbiddenError(OsdnError):
    code = 403
    reason = "Forbidden"


class NotFoundError(OsdnError):
    code = 404
    reason = "NotFound"


class MethodNotAllowedError(OsdnError):
    code = 405
    reason = "MethodNotAllowed"


class NotAcceptableError(OsdnError):
    code = 406
    reason = "NotAcceptable"


class ConflictError(OsdnError):
    code = 409
    reason = "Conflict"


class AlreadyExistsError(ConflictError):
    reason = "AlreadyExists"


class GoneError(OsdnError):
    """A watch asked for a resourceVersion older than the store's history."""

    code = 410
    reason = "Expired"


class RequestEntityTooLargeError(OsdnError):
    code = 413
    reason = "RequestEntityTooLarge"


class TooManyRequestsError(OsdnError):
    code = 429
    reason = "TooManyRequests"


class UnsupportedMediaTypeError(OsdnError):
    code = 415
    reason = "UnsupportedMediaType"


class ValidationError(OsdnError):
    code = 422
    reason = "Invalid"

    @classmethod
    def of(cls, ref: ObjectRef, causes: list[FieldError]) -> ValidationError:
        head = ref.describe() or "object"
        return cls(f"{head}: " + "; ".join(str(c) for c in causes), ref, causes)


class TimeoutError_(OsdnError):
    code = 504
    reason = "Timeout"


class KernelError(OsdnError):
    """A kernel operation failed (netlink errno, nft transaction); raised only by osdn.kernel."""

    reason = "KernelError"


_BY_REASON: dict[str, type[OsdnError]] = {
    c.reason: c for c in (BadRequestError, UnauthorizedError, ForbiddenError, NotFoundError,
                          MethodNotAllowedError, NotAcceptableError, ConflictError, AlreadyExistsError, GoneError,
                          RequestEntityTooLargeError, UnsupportedMediaTypeError, ValidationError, TimeoutError_)
}


def error_from_status(status: dict[str, Any]) -> OsdnError:
    """Rebuild the exception a kube-style Status stands for (used by the client)."""
    cls = _BY_REASON.get(status.get("reason", ""), OsdnError)
    details = status.get("details") or {}
    causes = [FieldError(c.get("field", ""), c.get("message", ""), c.get("reason", "FieldValueInvalid"))
              for c in details.get("causes") or []]
    err = cls(status.get("message", "unknown error"),
              ObjectRef(details.get("kind", ""), details.get("name", ""), "", details.get("group", "")),
              causes)
    err.code = int(status.get("code", cls.code))
    err.from_server = True
    return err


@dataclass
class Warnings:
    """Non-fatal remarks collected during admission; sent as HTTP `Warning` headers."""

    items: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.items.append(text)
