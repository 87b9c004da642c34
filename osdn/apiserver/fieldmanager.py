"""Who a write is by, for managedFields: `?fieldManager=`, else the User-Agent's product (kube's rule).

Server-side apply (PATCH `application/apply-patch+yaml`) requires `?fieldManager`; `?force=` is
read as Go reads booleans and is allowed only on apply, as kube-apiserver does.
"""

from __future__ import annotations

from starlette.requests import Request

from osdn.errors import BadRequestError, FieldError

MAX_MANAGER = 128
_TRUE, _FALSE = ("1", "t", "T", "true", "TRUE", "True"), ("0", "f", "F", "false", "FALSE", "False")


def _invalid(field: str, message: str) -> BadRequestError:
    text = f'PatchOptions.meta.k8s.io "" is invalid: {field}: {message}'
    return BadRequestError(text, causes=[FieldError(field, message)])


def manager_of(request: Request, apply: bool = False) -> str:
    """The field manager of this request."""
    manager = request.query_params.get("fieldManager", "")
    if apply and not manager:
        raise _invalid("fieldManager", "Required value: is required for apply patch")
    if not manager:
        manager = request.headers.get("user-agent", "").split("/")[0].strip() or "unknown"
    if len(manager) > MAX_MANAGER:
        raise _invalid("fieldManager", f"Too long: may not be longer than {MAX_MANAGER}")
    return manager


def force_of(request: Request, apply: bool) -> bool:
    value = request.query_params.get("force")
    if value is None:
        return False
    if value not in _TRUE + _FALSE:
        raise BadRequestError(f'force: invalid value "{value}": must be a boolean')
    if not apply:
        raise _invalid("force", "Forbidden: may not be specified for non-apply patch")
    return value in _TRUE
