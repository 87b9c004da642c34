"""Discovery as kube-apiserver serves it: /version, /api, /apis (also in the aggregated
apidiscovery.k8s.io/v2 form when the Accept header asks for it first, so kubectl needs two requests
instead of one per group-version), /api/v1 and /apis/G/V resource lists, and the OpenAPI endpoints
(/openapi/v2, /openapi/v3, /openapi/v3/<gv>).

Verbs and subresources per resource are what the server implements: `<plural>/status` (get, patch,
update) for kinds with a status, `create` only for the review resources, no `watch` on projects.
OpenAPI v2 is served as JSON only: a protobuf-only Accept gets 406 (client-go's OpenAPISchema needs
protobuf, so the kubectl paths that read v2 fail; kubectl reads v3 for explain and apply).
"""

from __future__ import annotations

import datetime
import json
import platform
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import osdn
from osdn.api.registry import KindInfo, all_kinds
from osdn.apiserver import openapi
from osdn.apiserver.scale import SCALE_KIND, scalable
from osdn.errors import NotAcceptableError, NotFoundError

Endpoint = Callable[[Request], Awaitable[Response]]

KUBE_API_LEVEL = ("1", "32")   # the Kubernetes API level discovery and OpenAPI follow (kubectl checks skew)
_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
# what osdn serves differently (as kube-apiserver and openshift-apiserver do): no collection delete of
# namespaces or projects, no watch of projects, a ProjectRequest is only created (and listed, empty)
_NOT_SERVED = {"Namespace": {"deletecollection"}, "Project": {"deletecollection", "watch"}}
_ONLY = {"ProjectRequest": ["create", "list"]}
Obj = dict[str, Any]


@dataclass(frozen=True)
class Extra:
    """A resource served outside the kind registry (the review resources: create only)."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


EXTRAS: list[Extra] = []   # filled by the modules that serve them (osdn.apiserver.reviews)


@cache
def version_info() -> Obj:
    built = datetime.datetime.fromtimestamp(Path(osdn.__file__).stat().st_mtime, datetime.UTC)
    return {"major": KUBE_API_LEVEL[0], "minor": KUBE_API_LEVEL[1],
            "gitVersion": f"v{KUBE_API_LEVEL[0]}.{KUBE_API_LEVEL[1]}.0-osdn.{osdn.__version__}",
            "gitCommit": "", "gitTreeState": "", "buildDate": built.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "goVersion": f"python{platform.python_version()}", "compiler": platform.python_implementation().lower(),
            "platform": f"{platform.system().lower()}/{_arch()}", "osdn": osdn.__version__}


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def api_versions(request: Request) -> Obj:
    host = request.url.netloc or "127.0.0.1"
    return {"kind": "APIVersions", "apiVersion": "v1", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]}


def _group_versions() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    pairs = [(k.group, k.version) for k in all_kinds()] + [(e.group, e.version) for e in EXTRAS]
    for group, version in pairs:
        if group and version not in groups.setdefault(group, []):
            groups[group].append(version)
    return groups


def _group_order(item: tuple[str, list[str]]) -> tuple[bool, str]:
    """Kubernetes' own groups first, as kube-apiserver lists them: kubectl resolves a resource name
    two groups serve (`ingresses`: networking.k8s.io and config.openshift.io) to the first group."""
    group = item[0]
    return "." in group and not group.endswith(".k8s.io"), group


def group_list() -> Obj:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
         "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
        for g, vs in sorted(_group_versions().items(), key=_group_order)]}


def _resource(k: KindInfo) -> list[Obj]:
    verbs = _ONLY.get(k.kind) or [v for v in _VERBS if v not in _NOT_SERVED.get(k.kind, set())]
    main = {"name": k.plural, "singularName": k.singular, "namespaced": k.namespaced, "kind": k.kind,
            "verbs": verbs, **({"shortNames": list(k.short_names)} if k.short_names else {})}
    if k.kind in ("Pod", "Deployment", "ReplicaSet", "ReplicationController", "Service"):  # kube's "all"
        main["categories"] = ["all"]
    subs = [{"name": f"{k.plural}/status", "singularName": "", "namespaced": k.namespaced, "kind": k.kind,
             "verbs": ["get", "patch", "update"]}] if k.has_status and k.kind != "Project" else []
    if scalable(k):
        subs.append({"name": f"{k.plural}/scale", "singularName": "", "namespaced": k.namespaced, **SCALE_KIND,
                     "verbs": ["get", "patch", "update"]})
    if k.kind == "ServiceAccount":   # the TokenRequest subresource (osdn.apiserver.satoken), as kube lists it
        subs.append({"name": "serviceaccounts/token", "singularName": "", "namespaced": True,
                     "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest", "verbs": ["create"]})
    return [main, *subs]


def resource_list(group_version: str) -> Obj:
    kinds = [k for k in all_kinds() if k.api_version == group_version]
    extras = [e for e in EXTRAS if e.api_version == group_version]
    if not kinds and not extras:
        raise NotFoundError(f"the server could not find the requested resource ({group_version})")
    resources = [r for k in kinds for r in _resource(k)] + [
        {"name": e.plural, "singularName": e.kind.lower(), "namespaced": e.namespaced, "kind": e.kind,
         "verbs": ["create"]} for e in extras]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


def _aggregated_resource(r: Obj, subs: list[Obj], group: str, version: str) -> Obj:
    kind = {"group": group, "version": version, "kind": r["kind"]}
    out = {"resource": r["name"], "responseKind": kind, "scope": "Namespaced" if r["namespaced"] else "Cluster",
           "singularResource": r["singularName"], "verbs": r["verbs"]}
    for key in ("shortNames", "categories"):
        if key in r:
            out[key] = r[key]
    if subs:
        out["subresources"] = [{"subresource": s["name"].split("/", 1)[1], "verbs": s["verbs"],
                                "responseKind": {**kind, **{k: s[k] for k in ("group", "version") if k in s},
                                                 "kind": s["kind"]}} for s in subs]
    return out


def aggregated(core: bool) -> Obj:
    """apidiscovery.k8s.io/v2 APIGroupDiscoveryList: /api (core) or /apis in one answer."""
    groups = {"": ["v1"]} if core else _group_versions()
    items = []
    for group, versions in sorted(groups.items(), key=_group_order):
        entries = []
        for version in versions:
            listed = resource_list(f"{group}/{version}" if group else version)["resources"]
            mains = [r for r in listed if "/" not in r["name"]]
            entries.append({"version": version, "freshness": "Current", "resources": [
                _aggregated_resource(r, [s for s in listed if s["name"].startswith(r["name"] + "/")], group, version)
                for r in mains]})
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": entries})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}


AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def wants_aggregated(request: Request) -> bool:
    """The Accept header's first choice is the aggregated v2 form (kubectl >= 1.30 asks for it first)."""
    first = request.headers.get("accept", "").split(",")[0]
    params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in first.split(";")[1:])}
    return params.get("as") == "APIGroupDiscoveryList" and params.get("v") == "v2" and \
        params.get("g") == "apidiscovery.k8s.io"


def root(request: Request, core: bool) -> Response:
    """/api or /apis: the aggregated form when asked for it, else APIVersions / APIGroupList."""
    if wants_aggregated(request):
        return Response(json.dumps(aggregated(core), separators=(",", ":")).encode(), 200, {"Vary": "Accept"},
                        AGGREGATED)
    return JSONResponse(api_versions(request) if core else group_list(), headers={"Vary": "Accept"})


# ---- HTTP ---------------------------------------------------------------------------------------

async def version(request: Request) -> Response:
    return JSONResponse(version_info())


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "") or "*/*"
    return any(t.split(";")[0].strip() in ("application/json", "*/*", "application/*") for t in accept.split(","))


def _cached(request: Request, body: bytes) -> Response:
    tag = f'"{openapi.etag(body)}"'
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers={"ETag": tag})
    return Response(body, 200, {"ETag": tag, "Vary": "Accept"}, "application/json")


async def openapi_v2(request: Request) -> Response:
    if not _wants_json(request):
        e = NotAcceptableError("only application/json is served for /openapi/v2 (no protobuf)")
        return JSONResponse(e.to_status(), e.code)
    return _cached(request, openapi.openapi_v2())


async def openapi_v3_index(request: Request) -> Response:
    return _cached(request, openapi.openapi_v3_index())


async def openapi_v3_document(request: Request) -> Response:
    doc = openapi.openapi_v3_documents().get(request.path_params["gv"].strip("/"))
    if doc is None:
        missing = NotFoundError(f'no OpenAPI v3 document for "{request.path_params["gv"]}"')
        return JSONResponse(missing.to_status(), missing.code)
    if not _wants_json(request):
        e = NotAcceptableError("only application/json is served for /openapi/v3")
        return JSONResponse(e.to_status(), e.code)
    response = _cached(request, doc)
    if "hash" in request.query_params:
        response.headers["Cache-Control"] = "public, immutable"
    return response


def routes(authenticated: Callable[[Endpoint], Endpoint]) -> list[Route]:
    """/version is public (kube's system:public-info-viewer); the OpenAPI documents are for
    authenticated users only (system:discovery), wrapped by `authenticated`."""
    return [Route("/version", version), Route("/openapi/v2", authenticated(openapi_v2)),
            Route("/openapi/v3", authenticated(openapi_v3_index)),
            Route("/openapi/v3/{gv:path}", authenticated(openapi_v3_document))]
