"""The OpenAPI (v3) document of the API, built from the kind registry and the kinds' models. Pure."""

from __future__ import annotations

from functools import cache
from typing import Any

from osdn import __version__
from osdn.api.kinds import hooks_for
from osdn.api.registry import KindInfo, all_kinds


def _schema(info: KindInfo) -> dict[str, Any]:
    model = hooks_for(info.kind).model
    if model is not None:
        try:
            return dict(model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}"))
        except Exception:  # a model that cannot render a schema still gets a generic object
            pass
    return {"type": "object", "additionalProperties": True}


def _operations(info: KindInfo, item: bool) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{info.kind}"}
    ok = {"description": "OK", "content": {"application/json": {"schema": ref}}}
    status = {"description": "Status", "content": {"application/json": {"schema": {"type": "object"}}}}
    errors = {str(c): status for c in (400, 401, 403, 404, 409, 422)}
    tags = [info.group or "core"]
    if item:
        body = {"content": {"application/json": {"schema": ref}}, "required": True}
        patch = {"content": {t: {"schema": {"type": "object"}} for t in (
            "application/merge-patch+json", "application/json-patch+json")}, "required": True}
        return {
            "get": {"operationId": f"read{info.kind}", "tags": tags, "responses": {"200": ok, **errors}},
            "put": {"operationId": f"replace{info.kind}", "tags": tags, "requestBody": body,
                    "responses": {"200": ok, **errors}},
            "patch": {"operationId": f"patch{info.kind}", "tags": tags, "requestBody": patch,
                      "responses": {"200": ok, **errors}},
            "delete": {"operationId": f"delete{info.kind}", "tags": tags, "responses": {"200": ok, **errors}},
        }
    params = [{"name": n, "in": "query", "required": False, "schema": {"type": t}} for n, t in (
        ("labelSelector", "string"), ("fieldSelector", "string"), ("watch", "boolean"),
        ("resourceVersion", "string"), ("timeoutSeconds", "integer"))]
    return {
        "get": {"operationId": f"list{info.kind}", "tags": tags, "parameters": params,
                "responses": {"200": {"description": "OK"}, **errors}},
        "post": {"operationId": f"create{info.kind}", "tags": tags,
                 "requestBody": {"content": {"application/json": {"schema": ref}}, "required": True},
                 "responses": {"201": ok, **errors}},
    }


@cache
def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    ns_param = {"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}}
    name_param = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    for info in all_kinds():
        schema = _schema(info)
        schemas.update(schema.pop("$defs", {}))
        schemas[info.kind] = schema
        collection = info.path("{namespace}" if info.namespaced else None)
        paths[collection] = {"parameters": [ns_param] if info.namespaced else [], **_operations(info, False)}
        paths[collection + "/{name}"] = {"parameters": ([ns_param] if info.namespaced else []) + [name_param],
                                         **_operations(info, True)}
    return {"openapi": "3.0.3", "info": {"title": "osdn API", "version": __version__},
            "components": {"schemas": schemas,
                           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}], "paths": paths}
