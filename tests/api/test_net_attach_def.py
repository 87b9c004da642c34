"""NetworkAttachmentDefinition (k8s.cni.cncf.io/v1) as served: discovery, OpenAPI, kubectl's table,
spec.config validation (422 naming the field), and who may write one (cluster admins; project roles read)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.test_authz import PROJECTS, make_user
from tests.conftest import ServerProc

NADS = "/apis/k8s.cni.cncf.io/v1/namespaces/{ns}/network-attachment-definitions"
CONFIG = json.dumps({"cniVersion": "0.4.0", "type": "egress-router", "name": "egress-router-cni-nad",
                     "ip": {"addresses": ["198.18.0.99/24"], "gateway": "198.18.0.1",
                            "destinations": ["203.0.113.80"]}})


def nad(name: str, config: object) -> dict:
    return {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": name}, "spec": {"config": config}}


def test_discovery_openapi_and_table(server: ServerProc) -> None:
    with server.http() as api:
        res = api.get("/apis/k8s.cni.cncf.io/v1").json()["resources"]
        assert res == [{"name": "network-attachment-definitions", "singularName": "network-attachment-definition",
                        "namespaced": True, "kind": "NetworkAttachmentDefinition",
                        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                        "shortNames": ["net-attach-def"]}]
        defs = api.get("/openapi/v2").json()["definitions"]
        assert defs["io.cncf.cni.k8s.v1.NetworkAttachmentDefinition"]["x-kubernetes-group-version-kind"] == [
            {"group": "k8s.cni.cncf.io", "kind": "NetworkAttachmentDefinition", "version": "v1"}]
        assert api.post(NADS.format(ns="default"), json=nad("egress-nad", CONFIG)).status_code == 201
    out = server.kubectl("get", "net-attach-def", "-n", "default", check=True).stdout
    assert out.split("\n")[0].split() == ["NAME", "AGE"] and out.split("\n")[1].startswith("egress-nad ")
    got = server.kubectl("get", "network-attachment-definition", "egress-nad", "-n", "default", "-o",
                         "jsonpath={.spec.config}", check=True).stdout
    assert json.loads(got)["type"] == "egress-router"
    names = [server.kubectl("get", "net-attach-def", "-n", "default", "-o", "name", check=True).stdout,
             server.cli("get", "net-attach-def", "-n", "default", "-o", "name", check=True).stdout]
    assert names == ["networkattachmentdefinition.k8s.cni.cncf.io/egress-nad\n"] * 2


def test_config_is_validated_naming_the_field(server: ServerProc) -> None:
    cases = {
        "not json": "must be a JSON object (a CNI configuration): Expecting value: line 1 column 1 (char 0)",
        "[1]": "must be a JSON object (a CNI configuration), got a JSON list",
        '{"type": "egress-router"}': 'must have a string "cniVersion"',
        '{"cniVersion": "0.4.0"}': 'must have a string "type" (a plugin configuration) or "plugins"',
        '{"cniVersion": "1.0.0", "plugins": []}': '"plugins" must be a non-empty list',
        '{"cniVersion": "1.0.0", "plugins": [{"name": "x"}]}': '"plugins[0]" must be an object with a string "type"',
        json.dumps({"cniVersion": "0.4.0", "type": "x", "pad": "y" * 70000}): "must be at most 65536 bytes, got 70",
    }
    with server.http() as api:
        for n, (config, message) in enumerate(cases.items()):
            r = api.post(NADS.format(ns="default"), json=nad(f"bad{n}", config))
            assert r.status_code == 422, r.text
            causes = r.json()["details"]["causes"]
            assert [c["field"] for c in causes] == ["spec.config"] and message in causes[0]["message"], r.text
            assert r.json()["message"].startswith(f'NetworkAttachmentDefinition "bad{n}" in project "default"')
        r = api.post(NADS.format(ns="default"), json=nad("typed", {"type": "egress-router"}))
        assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "spec.config", r.text
        r = api.post(NADS.format(ns="default"), json={**nad("nospec", ""), "spec": {}})
        assert r.status_code == 422 and "Required value" in r.text, r.text


def test_project_roles_read_but_only_cluster_admins_write(server: ServerProc, tmp_path: Path) -> None:
    alice = make_user(server, tmp_path, "alice")
    with alice.http as api:
        assert api.post(PROJECTS, json={"apiVersion": "v1", "kind": "Project",
                                        "metadata": {"name": "p1"}}).status_code == 201
        r = api.post(NADS.format(ns="p1"), json=nad("mine", CONFIG))
        assert r.status_code == 403 and "network-attachment-definitions" in r.text, r.text
        assert server.http().post(NADS.format(ns="p1"), json=nad("given", CONFIG)).status_code == 201
        assert [i["metadata"]["name"] for i in api.get(NADS.format(ns="p1")).json()["items"]] == ["given"]
        assert api.delete(NADS.format(ns="p1") + "/given").status_code == 403
        assert api.get(NADS.format(ns="default")).status_code == 403


def test_egress_routers_are_the_cluster_admins_too(server: ServerProc, tmp_path: Path) -> None:
    routers = "/apis/network.operator.openshift.io/v1/namespaces/p1/egressrouters"
    router = {"apiVersion": "network.operator.openshift.io/v1", "kind": "EgressRouter", "metadata": {"name": "r"},
              "spec": {"addresses": [{"ip": "198.18.0.99/24", "gateway": "198.18.0.1"}],
                       "redirect": {"fallbackIP": "203.0.113.80"}}}
    alice = make_user(server, tmp_path, "alice")
    with alice.http as api:
        assert api.post(PROJECTS, json={"apiVersion": "v1", "kind": "Project",
                                        "metadata": {"name": "p1"}}).status_code == 201
        assert api.post(routers, json=router).status_code == 403
        assert server.http().post(routers, json=router).status_code == 201
        assert [i["metadata"]["name"] for i in api.get(routers).json()["items"]] == ["r"]
