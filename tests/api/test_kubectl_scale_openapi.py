"""The real kubectl reads the scale subresource from the OpenAPI documents the server publishes:
`kubectl get --raw` of /openapi/v3/apis/apps/v1, /openapi/v3/api/v1 and /openapi/v2 shows the
`.../scale` paths with autoscaling/v1 Scale schemas, and `kubectl explain` still reads the documents.
Skipped only when kubectl is not installed."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import ServerProc

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
SCALE = "io.k8s.api.autoscaling.v1.Scale"


def raw(server: ServerProc, path: str) -> dict:
    return dict(json.loads(server.kubectl("get", "--raw", path, check=True).stdout))


def test_kubectl_get_raw_openapi_shows_the_scale_paths(server: ServerProc) -> None:
    apps = raw(server, "/openapi/v3/apis/apps/v1")
    scale = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["get"]["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "kind": "Scale",
                                                              "version": "v1"}
    assert scale["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{SCALE}"}
    assert "/apis/apps/v1/namespaces/{namespace}/replicasets/{name}/scale" in apps["paths"]
    assert apps["components"]["schemas"][f"{SCALE}Status"]["properties"]["selector"]["type"] == "string"
    core = raw(server, "/openapi/v3/api/v1")
    assert "/api/v1/namespaces/{namespace}/replicationcontrollers/{name}/scale" in core["paths"]
    assert SCALE in core["components"]["schemas"]
    v2 = raw(server, "/openapi/v2")
    assert v2["paths"]["/apis/apps/v1/namespaces/{namespace}/replicasets/{name}/scale"]["patch"][
        "x-kubernetes-group-version-kind"]["kind"] == "Scale"
    assert SCALE in v2["definitions"]

    explained = server.kubectl("explain", "deployment.spec.replicas", check=True).stdout   # still readable
    assert "FIELD: replicas <integer>" in explained
