"""The scale subresource in the OpenAPI documents (osdn.apiserver.openapi, pure): `.../{name}/scale`
of Deployments, ReplicaSets and ReplicationControllers, read/replace/patch of an autoscaling/v1
Scale, with the Scale, ScaleSpec and ScaleStatus schemas in the same document, in v2 and v3."""

from __future__ import annotations

import json

import pytest

from osdn.apiserver import openapi

SCALE = "io.k8s.api.autoscaling.v1.Scale"
PATHS = {"apis/apps/v1": ["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
                          "/apis/apps/v1/namespaces/{namespace}/replicasets/{name}/scale"],
         "api/v1": ["/api/v1/namespaces/{namespace}/replicationcontrollers/{name}/scale"]}
GVK = {"group": "autoscaling", "kind": "Scale", "version": "v1"}


def _scale_paths(doc: dict) -> list[str]:
    return sorted(p for p in doc["paths"] if p.endswith("/scale"))


@pytest.mark.parametrize("gv", sorted(PATHS))
def test_v3_documents_have_the_scale_paths_and_schemas(gv: str) -> None:
    doc = json.loads(openapi.openapi_v3_documents()[gv])
    assert _scale_paths(doc) == PATHS[gv]
    path = doc["paths"][PATHS[gv][0]]
    assert sorted(k for k in path if k != "parameters") == ["get", "patch", "put"]   # no delete of a Scale
    assert [p["name"] for p in path["parameters"]] == ["namespace", "name"]
    ref = {"$ref": f"#/components/schemas/{SCALE}"}
    for verb in ("get", "put", "patch"):
        op = path[verb]
        assert op["x-kubernetes-group-version-kind"] == GVK
        assert op["responses"]["200"]["content"]["application/json"]["schema"] == ref
    assert path["put"]["requestBody"]["content"]["*/*"]["schema"] == ref
    assert "application/apply-patch+yaml" not in path["patch"]["requestBody"]["content"]
    assert "application/merge-patch+json" in path["patch"]["requestBody"]["content"]
    schemas = doc["components"]["schemas"]
    scale = schemas[SCALE]
    assert scale["x-kubernetes-group-version-kind"] == [GVK]
    assert scale["properties"]["spec"]["allOf"] == [{"$ref": f"#/components/schemas/{SCALE}Spec"}]
    assert scale["properties"]["metadata"]["allOf"][0]["$ref"].removeprefix("#/components/schemas/") in schemas
    assert schemas[f"{SCALE}Spec"]["properties"]["replicas"] == {
        "description": "replicas is the desired number of instances for the scaled object.",
        "type": "integer", "format": "int32"}
    assert schemas[f"{SCALE}Status"]["required"] == ["replicas"]
    assert set(schemas[f"{SCALE}Status"]["properties"]) == {"replicas", "selector"}


def test_other_group_versions_have_no_scale() -> None:
    doc = json.loads(openapi.openapi_v3_documents()["apis/networking.k8s.io/v1"])
    assert _scale_paths(doc) == [] and SCALE not in doc["components"]["schemas"]


def test_v2_has_every_scale_path_with_a_body_parameter() -> None:
    doc = json.loads(openapi.openapi_v2())
    assert _scale_paths(doc) == sorted(PATHS["api/v1"] + PATHS["apis/apps/v1"])
    put = doc["paths"][PATHS["apis/apps/v1"][0]]["put"]
    assert put["operationId"] == "replaceDeploymentScale"
    assert put["parameters"][0] == {"name": "body", "in": "body", "required": True,
                                    "schema": {"$ref": f"#/definitions/{SCALE}"}}
    assert doc["definitions"][SCALE]["properties"]["status"]["$ref"] == f"#/definitions/{SCALE}Status"
