"""`Impersonate-User` / `Impersonate-Group` headers (`kubectl --as alice --as-group g`), as kube-apiserver:
the caller needs the RBAC verb `impersonate` on `users` (and on `groups` for each group) in the core
group; the request then runs as that user with those groups (plus system:authenticated).
Other Impersonate-* headers (Uid, Extra-*) are refused rather than ignored.
"""

from __future__ import annotations

from starlette.requests import Request

from osdn.apiserver.auth import AUTHENTICATED, Attributes, Authorizer, User
from osdn.errors import BadRequestError, ForbiddenError


def impersonated(request: Request, caller: User, authorizer: Authorizer) -> User:
    headers = request.headers
    name = headers.get("impersonate-user", "")
    groups = headers.getlist("impersonate-group")
    other = [h for h in headers if h.lower().startswith("impersonate-") and h.lower() not in
             ("impersonate-user", "impersonate-group")]
    if other:
        raise BadRequestError(f"impersonation header {other[0]} is not supported (only Impersonate-User and "
                              "Impersonate-Group)")
    if not name:
        if groups:
            raise BadRequestError("Impersonate-Group requires Impersonate-User")
        return caller
    for resource, value in [("users", name), *(("groups", g) for g in groups)]:
        if not authorizer.allowed(caller, Attributes("impersonate", "", resource, name=value)):
            raise ForbiddenError(f'{resource} "{value}" is forbidden: User "{caller.name}" cannot impersonate '
                                 f'resource "{resource}" in API group "" at the cluster scope')
    return User(name, (*groups, AUTHENTICATED))
