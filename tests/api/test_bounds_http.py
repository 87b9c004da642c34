"""Numbers and names that no Kubernetes client could hold are refused before anything is written: an
int32 field given more than 32 bits (a Deployment's replicas of 2**40 used to be stored, and the
controller would have made pods for it), any integer beyond 64 bits anywhere in a body, and a Scale
or object whose name or namespace contradicts the URL (both used to be accepted, the body's silently
replaced)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ServerProc

NS = "default"
DEPLOY = f"/apis/apps/v1/namespaces/{NS}/deployments"
MERGE = {"Content-Type": "application/merge-patch+json"}


def web(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}]}}, **spec}}


@pytest.mark.parametrize(("spec", "field"), [
    ({"replicas": 2**31}, "spec.replicas"),
    ({"revisionHistoryLimit": 2**40}, "spec.revisionHistoryLimit"),
    ({"progressDeadlineSeconds": -2**31 - 1}, "spec.progressDeadlineSeconds"),
    ({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2**32}}},
     "spec.strategy.rollingUpdate.maxSurge"),
], ids=["replicas", "history", "deadline", "max-surge"])
def test_int32_fields_refuse_larger_numbers(server: ServerProc, spec: dict[str, Any], field: str) -> None:
    with server.http() as api:
        r = api.post(DEPLOY, json=web(**spec))
        assert r.status_code == 422, r.text
        assert f"{field}: must fit in a 32-bit integer (-2147483648 to 2147483647)" in r.json()["message"]
        assert api.get(f"{DEPLOY}/web").status_code == 404


def test_a_number_beyond_64_bits_is_a_bad_request_anywhere(server: ServerProc) -> None:
    body = web()
    body["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 2**64   # a field osdn does not model
    with server.http() as api:
        r = api.post(DEPLOY, json=body)
        assert r.status_code == 400, r.text
        assert r.json()["message"] == ("spec.template.spec.terminationGracePeriodSeconds: 18446744073709551616 "
                                       "does not fit in a 64-bit integer (no API field holds it)")
        body["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 2**63 - 1
        assert api.post(DEPLOY, json=body).status_code == 201


def test_scale_and_object_writes_refuse_a_name_or_namespace_other_than_the_url(server: ServerProc) -> None:
    with server.http() as api:
        assert api.post(DEPLOY, json=web()).status_code == 201
        scale = api.get(f"{DEPLOY}/web/scale").json()
        for meta, words in ((("name", "other"), "the name of the object (other) does not match the name on the "
                                                "URL (web)"),
                            (("namespace", "kube-system"), "the namespace of the object (kube-system) does not "
                                                           "match the namespace on the request (default)")):
            bad = {**scale, "metadata": {**scale["metadata"], meta[0]: meta[1]}, "spec": {"replicas": 3}}
            r = api.put(f"{DEPLOY}/web/scale", json=bad)
            assert r.status_code == 400 and r.json()["message"] == words, r.text
        r = api.patch(f"{DEPLOY}/web/scale", headers=MERGE, json={"spec": {"replicas": 2**31}})
        assert r.status_code == 422, r.text
        assert r.json()["message"] == ('Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: '
                                       '2147483648: must be less than or equal to 2147483647')
        r = api.patch(f"{DEPLOY}/web", headers=MERGE, json={"metadata": {"namespace": "kube-system"}})
        assert r.status_code == 400, r.text
        assert api.get(f"{DEPLOY}/web").json()["spec"]["replicas"] == 1
