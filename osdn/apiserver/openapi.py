"""OpenAPI documents as kube-apiserver serves them, built from the kinds' pydantic models. Pure.

- `/openapi/v2`: one Swagger 2.0 document of every group-version (JSON only);
- `/openapi/v3`: an index `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=.."}}}`
  and one OpenAPI 3.0 document per group-version (what `kubectl explain` and kubectl's
  fieldValidation check read).

Paths: each kind's collection, item and (with a status) `/status`; the scalable kinds
(osdn.apiserver.scale) also `/scale` (get, put, patch of an autoscaling/v1 Scale, whose
`io.k8s.api.autoscaling.v1.Scale`/`ScaleSpec`/`ScaleStatus` schemas are in their documents, as kube's);
ServiceAccounts also `/token` (create of an `io.k8s.api.authentication.v1.TokenRequest`).

Definitions carry kube's names (`io.k8s.api.networking.v1.NetworkPolicySpec`,
`com.github.openshift.api.network.v1.NetNamespace`), `x-kubernetes-group-version-kind` on kinds and
operations, and, from `osdn.api.patchmeta`, `x-kubernetes-patch-strategy`/`-patch-merge-key` and the
list-map keys. Descriptions are upstream's (k8s.io/api, apimachinery meta/v1, openshift/api),
extracted by scripts/gen_openapi_docs.py into openapi_docs.json; upstream fields osdn has no model
for are listed with their description and no type (kept, not validated).
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel

from osdn import __version__
from osdn.api.kinds import hooks_for
from osdn.api.kinds.serviceaccount import TokenRequest
from osdn.api.patchmeta import Node, schema_for
from osdn.api.registry import KindInfo, all_kinds
from osdn.apiserver.scale import SCALE_KIND, scalable

Obj = dict[str, Any]
META = ("io.k8s.apimachinery.pkg.apis.meta.v1", "meta/v1")
_OPENSHIFT = "com.github.openshift.api"
PACKAGES: dict[str, tuple[str, str]] = {
    "": ("io.k8s.api.core.v1", "core/v1"),
    "apps": ("io.k8s.api.apps.v1", "apps/v1"),
    "networking.k8s.io": ("io.k8s.api.networking.v1", "networking/v1"),
    "coordination.k8s.io": ("io.k8s.api.coordination.v1", "coordination/v1"),
    "discovery.k8s.io": ("io.k8s.api.discovery.v1", "discovery/v1"),
    "rbac.authorization.k8s.io": ("io.k8s.api.rbac.v1", "rbac/v1"),
    "authorization.k8s.io": ("io.k8s.api.authorization.v1", "authorization/v1"),
    "authentication.k8s.io": ("io.k8s.api.authentication.v1", "authentication/v1"),
    **{f"{g}.openshift.io": (f"{_OPENSHIFT}.{g}.v1", f"{g}/v1")
       for g in ("route", "template", "project", "network", "operator", "config")},
    "k8s.cni.cncf.io": ("io.cncf.cni.k8s.v1", "k8s.cni.cncf.io/v1"),  # a CRD's name: its group reversed
    "network.operator.openshift.io": (f"{_OPENSHIFT}.networkoperator.v1", "networkoperator/v1"),
}
# apimachinery's scalar types, as kube-openapi writes them (v2: type/format; v3: oneOf), so that
# `kubectl explain` prints `port <IntOrString>` and `hard <map[string]Quantity>`.
_SCALARS: dict[frozenset[type], tuple[str, str, Obj, Obj]] = {
    frozenset({int, str}): (
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML marshalling and "
        "unmarshalling, it produces or consumes the inner type.  This allows you to have, for example, a JSON "
        "field that can accept a name or number.",
        {"type": "string", "format": "int-or-string"},
        {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]}),
    frozenset({int, str, float}): (
        "io.k8s.apimachinery.pkg.api.resource.Quantity",
        "Quantity is a fixed-point representation of a number. It provides convenient marshaling/unmarshaling "
        "in JSON and YAML, in addition to String() and AsInt64() accessors.",
        {"type": "string"}, {"oneOf": [{"type": "string"}, {"type": "number"}]}),
}
CORE_MODELS = {"ObjectReference"}   # core/v1 types that other groups' kinds use (EndpointSlice targetRef)
META_MODELS = {"ObjectMeta", "ListMeta", "LabelSelector", "LabelSelectorRequirement", "OwnerReference",
               "Condition"}
TYPE_META = {"apiVersion": "APIVersion defines the versioned schema of this representation of an object. "
                           "Servers should convert recognized schemas to the latest internal value, and may "
                           "reject unrecognized values.",
             "kind": "Kind is a string value representing the REST resource this object represents. Servers "
                     "may infer this from the endpoint the client submits requests to. Cannot be updated. "
                     "In CamelCase."}
SCALE = "io.k8s.api.autoscaling.v1.Scale"
TOKEN_KIND = {"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"}
_CONVENTIONS = "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"
SCALE_DOCS = {   # k8s.io/api autoscaling/v1 types.go
    "Scale": "Scale represents a scaling request for a resource.",
    "Scale.metadata": f"Standard object metadata; More info: {_CONVENTIONS}#metadata.",
    "Scale.spec": f"spec defines the behavior of the scale. More info: {_CONVENTIONS}#spec-and-status.",
    "Scale.status": f"status is the current status of the scale. More info: {_CONVENTIONS}#spec-and-status. "
                    "Read-only.",
    "ScaleSpec": "ScaleSpec describes the attributes of a scale subresource.",
    "ScaleSpec.replicas": "replicas is the desired number of instances for the scaled object.",
    "ScaleStatus": "ScaleStatus represents the current status of a scale subresource.",
    "ScaleStatus.replicas": "replicas is the actual number of observed instances of the scaled object.",
    "ScaleStatus.selector": "selector is the label query over pods that should match the replicas count. This is "
                            "same as the label selector but in the string format to avoid introspection by "
                            "clients. The string will be in the same format as the query-param syntax. More info "
                            "about label selectors: https://kubernetes.io/docs/concepts/overview/working-with-"
                            "objects/labels/",
}


@cache
def upstream_docs() -> dict[str, dict[str, dict[str, str]]]:
    return dict(json.loads(resources.files("osdn.apiserver").joinpath("openapi_docs.json").read_text()))


def _docs(package: str, name: str) -> dict[str, str]:
    return upstream_docs().get(package, {}).get(name, {})


class _Builder:
    """Turns models into definitions; `ref` is "#/definitions/" (v2) or "#/components/schemas/" (v3)."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        self.defs: dict[str, Obj] = {}
        self.names: dict[type, str] = {}

    def model(self, model: type[BaseModel], package: tuple[str, str], node: Node | None) -> str:
        if model in self.names:
            return self.names[model]
        pkg = META if model.__name__ in META_MODELS else PACKAGES[""] if model.__name__ in CORE_MODELS else package
        name = f"{pkg[0]}.{model.__name__}"
        self.names[model] = name
        docs = _docs(pkg[1], model.__name__)
        props: Obj = {}
        for field in model.model_fields.values():
            alias = field.alias or ""
            sub = node.get(alias) if node else None
            schema = self.annotation(field.annotation, package, sub.node if sub else None)
            desc = docs.get(alias) or TYPE_META.get(alias, "")
            props[alias] = self._describe(schema, desc)
            if sub and sub.strategy:
                props[alias]["x-kubernetes-patch-strategy"] = sub.strategy
            if sub and sub.key:
                props[alias].update({"x-kubernetes-patch-merge-key": sub.key, "x-kubernetes-list-type": "map",
                                     "x-kubernetes-list-map-keys": [sub.key]})
        for alias, desc in docs.items():
            if alias and alias not in props:
                props[alias] = {"description": desc}
        self.defs[name] = {"description": docs.get("", ""), "type": "object", "properties": props}
        return name

    def _describe(self, schema: Obj, desc: str) -> Obj:
        if "$ref" in schema and self.ref.startswith("#/components"):
            schema = {"allOf": [schema]}  # OpenAPI 3.0 ignores siblings of $ref
        return {**({"description": desc} if desc else {}), **schema}

    def annotation(self, ann: Any, package: tuple[str, str], node: Node | None) -> Obj:
        origin, args = typing.get_origin(ann), typing.get_args(ann)
        if origin is typing.Annotated:
            return self.annotation(args[0], package, node)
        if origin in (typing.Union, types.UnionType):
            rest = [a for a in args if a is not type(None)]
            if frozenset(rest) in _SCALARS:
                return {"$ref": self.ref + self._scalar(frozenset(rest))}
            return self.annotation(rest[0], package, node) if len(rest) == 1 else {}
        if origin is list:
            return {"type": "array", "items": self.annotation(args[0], package, node) if args else {}}
        if origin is dict:
            return {"type": "object", "additionalProperties": self.annotation(args[1], package, node)
                    if len(args) == 2 else {}}
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            return {"$ref": self.ref + self.model(ann, package, node)}
        simple = {str: {"type": "string"}, int: {"type": "integer", "format": "int64"}, bool: {"type": "boolean"},
                  float: {"type": "number", "format": "double"}}
        return dict(simple.get(ann, {"x-kubernetes-preserve-unknown-fields": True}))

    def _scalar(self, types_: frozenset[type]) -> str:
        name, desc, v2, v3 = _SCALARS[types_]
        self.defs.setdefault(name, {"description": desc, **(v3 if self.ref.startswith("#/components") else v2)})
        return name

    def kind(self, info: KindInfo) -> str | None:
        model = hooks_for(info.kind, info.group).model
        if model is None:
            return None
        name = self.model(model, PACKAGES[info.group], schema_for(info.kind))
        gvk = {"group": info.group, "kind": info.kind, "version": info.version}
        self.defs[name]["x-kubernetes-group-version-kind"] = [gvk]
        list_name = f"{name}List"
        self.defs[list_name] = {
            "description": f"{info.kind}List is a list of {info.kind} objects.", "type": "object",
            "required": ["items"], "x-kubernetes-group-version-kind": [{**gvk, "kind": f"{info.kind}List"}],
            "properties": {"apiVersion": {"description": TYPE_META["apiVersion"], "type": "string"},
                           "kind": {"description": TYPE_META["kind"], "type": "string"},
                           "items": {"type": "array", "items": {"$ref": self.ref + name}},
                           "metadata": self._describe({"$ref": self.ref + self._list_meta()}, "")}}
        return name

    def scale(self) -> str:
        """The autoscaling/v1 Scale and its spec and status (once per document)."""
        int32 = {"type": "integer", "format": "int32"}
        self.defs[f"{SCALE}Spec"] = {"description": SCALE_DOCS["ScaleSpec"], "type": "object", "properties": {
            "replicas": {"description": SCALE_DOCS["ScaleSpec.replicas"], **int32}}}
        self.defs[f"{SCALE}Status"] = {
            "description": SCALE_DOCS["ScaleStatus"], "type": "object", "required": ["replicas"], "properties": {
                "replicas": {"description": SCALE_DOCS["ScaleStatus.replicas"], **int32},
                "selector": {"description": SCALE_DOCS["ScaleStatus.selector"], "type": "string"}}}
        self.defs[SCALE] = {
            "description": SCALE_DOCS["Scale"], "type": "object", "x-kubernetes-group-version-kind": [SCALE_KIND],
            "properties": {
                "apiVersion": {"description": TYPE_META["apiVersion"], "type": "string"},
                "kind": {"description": TYPE_META["kind"], "type": "string"},
                **{field: self._describe({"$ref": self.ref + target}, SCALE_DOCS[f"Scale.{field}"])
                   for field, target in (("metadata", f"{META[0]}.ObjectMeta"), ("spec", f"{SCALE}Spec"),
                                         ("status", f"{SCALE}Status"))}}}
        return SCALE

    def token_request(self) -> str:
        """authentication.k8s.io/v1 TokenRequest, the body and answer of serviceaccounts/NAME/token."""
        name = self.model(TokenRequest, PACKAGES["authentication.k8s.io"], None)
        self.defs[name]["x-kubernetes-group-version-kind"] = [TOKEN_KIND]
        return name

    def _list_meta(self) -> str:
        name = f"{META[0]}.ListMeta"
        docs = _docs(META[1], "ListMeta")
        self.defs.setdefault(name, {"description": docs.get("", ""), "type": "object", "properties": {
            k: {"description": d, "type": "string" if k != "remainingItemCount" else "integer"}
            for k, d in docs.items() if k}})
        return name


_WRITE = (("dryRun", "string"), ("fieldManager", "string"), ("fieldValidation", "string"), ("pretty", "string"))
_LIST = (("labelSelector", "string"), ("fieldSelector", "string"), ("limit", "integer"), ("continue", "string"),
         ("resourceVersion", "string"), ("resourceVersionMatch", "string"), ("watch", "boolean"),
         ("timeoutSeconds", "integer"))


class _Ops:
    """The operations of one path, as kube-apiserver describes them (v2 or v3 flavour)."""

    def __init__(self, info: KindInfo, name: str, ref: str, v3: bool, sub: str = "") -> None:
        self.info, self.name, self.ref, self.v3, self.sub = info, name, ref, v3, sub
        self.suffix = info.kind + {"status": "Status", "scale": "Scale", "token": "Token"}.get(sub, "")
        self.gvk = dict(SCALE_KIND) if sub == "scale" else dict(TOKEN_KIND) if sub == "token" else \
            {"group": info.group, "kind": info.kind, "version": info.version}

    def param(self, name: str, ptype: str) -> Obj:
        return {"name": name, "in": "query", "uniqueItems": True,
                **({"schema": {"type": ptype}} if self.v3 else {"type": ptype})}

    def op(self, action: str, verb: str, query: tuple[tuple[str, str], ...], body: Obj | None, code: str,
           target: str) -> Obj:
        schema = {"$ref": self.ref + target}
        ok = {"description": "OK", "content": {"application/json": {"schema": schema}}} if self.v3 else \
            {"description": "OK", "schema": schema}
        o: Obj = {"operationId": f"{verb}{self.suffix}", "tags": [f"{self.info.group or 'core'}_{self.info.version}"],
                  "x-kubernetes-action": action, "responses": {code: ok, "401": {"description": "Unauthorized"}},
                  "x-kubernetes-group-version-kind": self.gvk}
        params = [self.param(n, t) for n, t in query]
        types = self.patch_types() if action == "patch" else ["*/*"]
        if body is not None and self.v3:
            o["requestBody"] = {"content": {t: {"schema": body} for t in types}, "required": True}
        elif body is not None:
            params.insert(0, {"name": "body", "in": "body", "required": True, "schema": body})
            o["consumes"] = types
        o["parameters"] = params
        return o

    def patch_types(self) -> list[str]:
        """Strategic merge patch only for the built-in kinds (kubectl reads this to pick a patch type);
        no apply patch of a Scale (osdn.apiserver.scale.patched takes the others)."""
        strategic = ["application/strategic-merge-patch+json"] if schema_for(self.info.kind) else []
        apply = [] if self.sub == "scale" else ["application/apply-patch+yaml"]
        return [*apply, "application/json-patch+json", "application/merge-patch+json", *strategic]

    def collection(self) -> Obj:
        return {"get": self.op("list", "list", _LIST, None, "200", f"{self.name}List"),
                "post": self.op("post", "create", _WRITE, {"$ref": self.ref + self.name}, "201", self.name)}

    def item(self) -> Obj:
        obj = {"$ref": self.ref + self.name}
        return {"get": self.op("get", "read", (), None, "200", self.name),
                "put": self.op("put", "replace", _WRITE, obj, "200", self.name),
                "patch": self.op("patch", "patch", (*_WRITE, ("force", "boolean")), {"type": "object"}, "200",
                                 self.name),
                "delete": self.op("delete", "delete", (("dryRun", "string"),), None, "200", self.name)}

    def scale(self) -> Obj:
        """The scale subresource: read, replace and patch an autoscaling/v1 Scale (no delete)."""
        return {"get": self.op("get", "read", (), None, "200", SCALE),
                "put": self.op("put", "replace", _WRITE, {"$ref": self.ref + SCALE}, "200", SCALE),
                "patch": self.op("patch", "patch", (*_WRITE, ("force", "boolean")), {"type": "object"}, "200",
                                 SCALE)}


def _document(group_versions: set[str], v3: bool) -> Obj:
    ref = "#/components/schemas/" if v3 else "#/definitions/"
    b = _Builder(ref)
    paths: Obj = {}
    for info in all_kinds():
        if info.api_version not in group_versions or (name := b.kind(info)) is None:
            continue
        ns = {"name": "namespace", "in": "path", "required": True, **({"schema": {"type": "string"}} if v3 else
                                                                       {"type": "string"})}
        nm = {**ns, "name": "name"}
        scoped = [ns] if info.namespaced else []
        collection = info.path("{namespace}" if info.namespaced else None)
        paths[collection] = {"parameters": scoped, **_Ops(info, name, ref, v3).collection()}
        paths[f"{collection}/{{name}}"] = {"parameters": [*scoped, nm], **_Ops(info, name, ref, v3).item()}
        if info.has_status:
            paths[f"{collection}/{{name}}/status"] = {"parameters": [*scoped, nm],
                                                      **_Ops(info, name, ref, v3, "status").item()}
        if info.kind == "ServiceAccount":   # the TokenRequest subresource (osdn.apiserver.satoken): create only
            token = b.token_request()
            paths[f"{collection}/{{name}}/token"] = {"parameters": [*scoped, nm], "post": _Ops(
                info, name, ref, v3, "token").op("post", "create", _WRITE, {"$ref": ref + token}, "201", token)}
        if scalable(info):
            b.scale()
            paths[f"{collection}/{{name}}/scale"] = {"parameters": [*scoped, nm],
                                                     **_Ops(info, name, ref, v3, "scale").scale()}
    info_block = {"title": "osdn", "version": f"v{__version__}"}
    if v3:
        return {"openapi": "3.0.0", "info": info_block, "paths": paths,
                "components": {"schemas": b.defs, "securitySchemes": {
                    "BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}}},
                "security": [{"BearerToken": []}]}
    return {"swagger": "2.0", "info": info_block, "paths": paths, "definitions": b.defs,
            "securityDefinitions": {"BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}},
            "security": [{"BearerToken": []}]}


def gv_path(api_version: str) -> str:
    """`v1` -> `api/v1`, `apps/v1` -> `apis/apps/v1` (the keys of the /openapi/v3 index)."""
    return f"apis/{api_version}" if "/" in api_version else f"api/{api_version}"


@cache
def openapi_v2() -> bytes:
    return json.dumps(_document({k.api_version for k in all_kinds()}, v3=False), separators=(",", ":")).encode()


@cache
def openapi_v3_documents() -> dict[str, bytes]:
    """Each group-version's OpenAPI 3 document, by its index key (`api/v1`, `apis/apps/v1`)."""
    return {gv_path(gv): json.dumps(_document({gv}, v3=True), separators=(",", ":")).encode()
            for gv in sorted({k.api_version for k in all_kinds()})}


def etag(body: bytes) -> str:
    return hashlib.sha512(body).hexdigest().upper()[:128]


@cache
def openapi_v3_index() -> bytes:
    return json.dumps({"paths": {p: {"serverRelativeURL": f"/openapi/v3/{p}?hash={etag(doc)}"}
                                 for p, doc in openapi_v3_documents().items()}}).encode()


@cache
def definitions_v3(api_version: str) -> dict[str, Obj]:
    """The component schemas of one group-version (fieldValidation walks them)."""
    return dict(json.loads(openapi_v3_documents()[gv_path(api_version)])["components"]["schemas"])
