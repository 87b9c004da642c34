"""`osdn create deployment` builds the Deployment kubectl builds; pods get kube's default pull policy."""

from __future__ import annotations

import pytest

from osdn.api.kinds.pod import default_pull_policy
from osdn.cli.workloads import container_name, deployment_object
from osdn.errors import BadRequestError


@pytest.mark.parametrize(("image", "name"), [
    ("nginx", "nginx"), ("docker.io/library/nginx:1.25", "nginx"), ("quay.io/my_org/my_app@sha256:ab", "my-app"),
    ("localhost:5000/Tool:v1", "tool"), ("registry.io/a/b:latest@sha256:x", "b")])
def test_container_name_is_the_image_base_name(image: str, name: str) -> None:
    assert container_name(image) == name


def test_deployment_selects_its_pods_by_app_name() -> None:
    d = deployment_object("web", ("nginx:1.25",), 3, 80, ())
    assert d["metadata"]["labels"] == d["spec"]["selector"]["matchLabels"] == \
        d["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    assert d["spec"]["replicas"] == 3
    assert d["spec"]["template"]["spec"]["containers"] == [
        {"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]


def test_one_container_per_image_with_unique_names_and_a_command() -> None:
    d = deployment_object("two", ("a/nginx", "b/nginx:2", "redis"), 1, None, ())
    assert [c["name"] for c in d["spec"]["template"]["spec"]["containers"]] == ["nginx", "nginx-2", "redis"]
    one = deployment_object("cmd", ("busybox",), 1, None, ("sleep", "3600"))
    assert one["spec"]["template"]["spec"]["containers"][0]["command"] == ["sleep", "3600"]
    with pytest.raises(BadRequestError, match="multiple --image options and a command"):
        deployment_object("bad", ("a", "b"), 1, None, ("ls",))


@pytest.mark.parametrize(("image", "policy"), [
    ("busybox", "Always"), ("nginx:latest", "Always"), ("localhost:5000/img", "Always"),
    ("registry.io/a/b:latest@sha256:x", "Always"), ("nginx:1.25", "IfNotPresent"),
    ("localhost:5000/img:v1", "IfNotPresent"), ("nginx@sha256:ab", "IfNotPresent"), (None, "IfNotPresent")])
def test_default_pull_policy_is_kubernetes(image: str | None, policy: str) -> None:
    assert default_pull_policy(image) == policy
