"""Authorization and identity reviews, answered by the RBAC authorizer (osdn.apiserver.auth):

- authorization.k8s.io/v1 SelfSubjectAccessReview (`kubectl auth can-i`), SelfSubjectRulesReview
  (`can-i --list`): any authenticated user, about themselves;
- SubjectAccessReview (cluster) and LocalSubjectAccessReview (namespaced): about any user and groups;
  the caller needs `create` on that resource (cluster admins);
- authentication.k8s.io/v1 SelfSubjectReview (`kubectl auth whoami`);
- authentication.k8s.io/v1 TokenReview: is this bearer token valid, for whom, for which audiences
  (osdn.apiserver.satoken.ServiceAccountTokens.review); the caller needs `create` on `tokenreviews`
  (cluster admins, `system:auth-delegator`).

Nothing is stored; the answer is the request with `status` filled in (kube's shape), as JSON. Request
bodies are JSON or protobuf (`osdn.api.protobuf.REVIEW_KINDS`: kubectl's typed clients send protobuf).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from osdn.api import protobuf
from osdn.api.decode import decode_json
from osdn.apiserver import bodies
from osdn.apiserver.auth import CLUSTER_ADMINS, Attributes, Authorizer, User
from osdn.apiserver.discovery import EXTRAS, Extra
from osdn.errors import BadRequestError, FieldError, OsdnError, UnsupportedMediaTypeError

Obj = dict[str, Any]
AUTHZ, AUTHN = "authorization.k8s.io", "authentication.k8s.io"
PROTOBUF = "application/vnd.kubernetes.protobuf"
EXTRAS.extend([Extra(AUTHZ, "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews"),
               Extra(AUTHZ, "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews"),
               Extra(AUTHZ, "v1", "SubjectAccessReview", "subjectaccessreviews"),
               Extra(AUTHZ, "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", namespaced=True),
               Extra(AUTHN, "v1", "SelfSubjectReview", "selfsubjectreviews"),
               Extra(AUTHN, "v1", "TokenReview", "tokenreviews")])
TokenReviewer = Callable[[str, tuple[str, ...]], Obj]   # (token, audiences) -> TokenReview status


async def _review(request: Request, kind: str, group: str) -> Obj:
    ctype = bodies.media_type(request)
    if ctype not in ("", "application/json", PROTOBUF):
        raise UnsupportedMediaTypeError(f'the body of the request was in an unknown format ("{ctype}") - '
                                        f"accepted media types include: application/json, {PROTOBUF}")
    raw = await bodies.read_raw(request, bodies.BodyLimits())
    try:   # decode_json bounds the depth (a deep body was a RecursionError, a 500)
        body = protobuf.decode_object(raw, protobuf.REVIEW_KINDS) if ctype == PROTOBUF else \
            decode_json(raw or b"{}").value
    except ValueError as e:
        raise BadRequestError(f"the {kind} is not valid JSON: {e}") from None
    if not isinstance(body, dict) or body.get("kind", kind) != kind:
        raise BadRequestError(f"the request body must be a {kind} object")
    body.setdefault("apiVersion", f"{group}/v1")
    body["kind"] = kind
    body["metadata"] = body.get("metadata") or {}
    for name in ("metadata", "spec"):
        if not isinstance(body.get(name) or {}, dict):
            raise BadRequestError(f"{name}: Invalid value: must be an object", causes=[FieldError(name, "not an object")])
    return body


def _strings(obj: Any, path: str, names: tuple[str, ...]) -> Obj:
    """`obj` (an object of string fields `names`, or absent) or a 400 naming the field."""
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise BadRequestError(f"{path}: Invalid value: must be an object", causes=[FieldError(path, "not an object")])
    for name in names:
        if not isinstance(obj.get(name, ""), str):
            raise BadRequestError(f"{path}.{name}: Invalid value: must be a string",
                                  causes=[FieldError(f"{path}.{name}", "not a string")])
    return obj


def attributes(spec: Obj, namespace_override: str | None = None) -> Attributes:
    res = _strings(spec.get("resourceAttributes"), "spec.resourceAttributes",
                   ("namespace", "verb", "group", "version", "resource", "subresource", "name"))
    non = _strings(spec.get("nonResourceAttributes"), "spec.nonResourceAttributes", ("path", "verb"))
    if res:
        ns = str(res.get("namespace") or "") if namespace_override is None else namespace_override
        return Attributes(str(res.get("verb") or ""), str(res.get("group") or ""), str(res.get("resource") or ""),
                          str(res.get("subresource") or ""), ns, str(res.get("name") or ""))
    if non:
        return Attributes(str(non.get("verb") or ""), "", "", path=str(non.get("path") or ""))
    raise BadRequestError("spec: Invalid value: exactly one of resourceAttributes or nonResourceAttributes "
                          "must be specified")


def decide(authorizer: Authorizer, user: User, attrs: Attributes) -> Obj:
    if not attrs.verb:
        raise BadRequestError("spec.resourceAttributes.verb: Required value")
    if authorizer.allowed(user, attrs):
        why = f"member of {CLUSTER_ADMINS}" if user.is_cluster_admin else "RBAC: allowed by a role binding"
        return {"allowed": True, "reason": why}
    return {"allowed": False}


def rules_status(authorizer: Authorizer, user: User, namespace: str) -> Obj:
    if user.is_cluster_admin:
        return {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}], "incomplete": False}
    resource_rules, non_resource = [], []
    for rule in authorizer.rules_for(user, namespace):
        if rule.get("nonResourceURLs"):
            non_resource.append({"verbs": rule.get("verbs") or [], "nonResourceURLs": rule["nonResourceURLs"]})
        else:
            resource_rules.append({k: rule[k] for k in ("verbs", "apiGroups", "resources", "resourceNames")
                                   if rule.get(k)})
    return {"resourceRules": resource_rules, "nonResourceRules": non_resource, "incomplete": False}


def review_routes(user_of: Callable[[Request], User], authorizer: Authorizer,
                  token_reviewer: TokenReviewer | None = None) -> list[Route]:
    def guarded(fn: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def run(request: Request) -> Response:
            try:
                return JSONResponse(await fn(request), 201)
            except OsdnError as e:
                return JSONResponse(e.to_status(), e.code)
        return run

    async def self_access(request: Request) -> Obj:
        user = user_of(request)
        body = await _review(request, "SelfSubjectAccessReview", AUTHZ)
        body["status"] = decide(authorizer, user, attributes(body.get("spec") or {}))
        return body

    async def self_rules(request: Request) -> Obj:
        user = user_of(request)
        body = await _review(request, "SelfSubjectRulesReview", AUTHZ)
        body["status"] = rules_status(authorizer, user, _strings(body.get("spec"), "spec", ("namespace",)).get(
            "namespace") or "")
        return body

    async def subject_access(request: Request) -> Obj:
        caller = user_of(request)
        authorizer.check(caller, Attributes("create", AUTHZ, "subjectaccessreviews"))
        body = await _review(request, "SubjectAccessReview", AUTHZ)
        return _about(body, None)

    async def local_access(request: Request) -> Obj:
        caller = user_of(request)
        namespace = request.path_params["namespace"]
        authorizer.check(caller, Attributes("create", AUTHZ, "localsubjectaccessreviews", namespace=namespace))
        body = await _review(request, "LocalSubjectAccessReview", AUTHZ)
        asked = ((body.get("spec") or {}).get("resourceAttributes") or {}).get("namespace")
        if asked not in (None, "", namespace):
            raise BadRequestError(f'spec.resourceAttributes.namespace: Invalid value: "{asked}": must be '
                                  f'"{namespace}" (the namespace of the LocalSubjectAccessReview)')
        body["metadata"]["namespace"] = namespace
        return _about(body, namespace)

    def _about(body: Obj, namespace: str | None) -> Obj:
        spec = _strings(body.get("spec"), "spec", ("user", "uid"))
        groups = spec.get("groups") or []
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise BadRequestError("spec.groups: Invalid value: must be a list of strings",
                                  causes=[FieldError("spec.groups", "not a list of strings")])
        if not spec.get("user") and not groups:
            raise BadRequestError("spec.user: Invalid value: at least one of user or groups must be specified")
        subject = User(spec.get("user") or "", tuple(groups))
        body["status"] = decide(authorizer, subject, attributes(spec, namespace))
        return body

    async def self_subject(request: Request) -> Obj:
        user = user_of(request)
        body = await _review(request, "SelfSubjectReview", AUTHN)
        body["metadata"].setdefault("creationTimestamp", None)
        body["status"] = {"userInfo": {"username": user.name, "groups": list(user.groups)}}
        return body

    async def token_review(request: Request) -> Obj:
        authorizer.check(user_of(request), Attributes("create", AUTHN, "tokenreviews"))
        body = await _review(request, "TokenReview", AUTHN)
        spec = _strings(body.get("spec"), "spec", ("token",))
        audiences = spec.get("audiences") or []
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            raise BadRequestError("spec.audiences: Invalid value: must be a list of strings",
                                  causes=[FieldError("spec.audiences", "not a list of strings")])
        if not spec.get("token") or token_reviewer is None:
            raise BadRequestError("spec.token: Required value: the token to review")
        body["metadata"].setdefault("creationTimestamp", None)
        body["status"] = token_reviewer(str(spec["token"]), tuple(audiences))
        return body

    base = f"/apis/{AUTHZ}/v1"
    return [Route(f"{base}/selfsubjectaccessreviews", guarded(self_access), methods=["POST"]),
            Route(f"{base}/selfsubjectrulesreviews", guarded(self_rules), methods=["POST"]),
            Route(f"{base}/subjectaccessreviews", guarded(subject_access), methods=["POST"]),
            Route(f"{base}/namespaces/{{namespace}}/localsubjectaccessreviews", guarded(local_access),
                  methods=["POST"]),
            Route(f"/apis/{AUTHN}/v1/selfsubjectreviews", guarded(self_subject), methods=["POST"]),
            Route(f"/apis/{AUTHN}/v1/tokenreviews", guarded(token_review), methods=["POST"])]
