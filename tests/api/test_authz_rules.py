"""The pure parts of authorization, without a server: rule covering (escalation), rule matching
(including nonResourceURLs), token expiry with an injected clock, project request metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from osdn.apiserver.auth import Attributes, TokenFile, rule_allows
from osdn.apiserver.plugins.rbac_escalation import covers, uncovered
from osdn.apiserver.projects import immutable_changes, requested_metadata, reserved_problem
from osdn.errors import BadRequestError, NotFoundError, UnauthorizedError

ALL = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
PODS_RW = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "create"]}


@pytest.mark.parametrize("owner, wanted, ok", [
    ([ALL], [PODS_RW], True),
    ([PODS_RW], [ALL], False),
    ([PODS_RW], [{**PODS_RW, "verbs": ["get"]}], True),
    ([PODS_RW], [{**PODS_RW, "verbs": ["get", "delete"]}], False),
    ([{**PODS_RW, "resourceNames": ["a"]}], [{**PODS_RW, "resourceNames": ["a"]}], True),
    ([{**PODS_RW, "resourceNames": ["a"]}], [PODS_RW], False),
    ([{**PODS_RW, "resources": ["pods/*"]}], [{**PODS_RW, "resources": ["pods/status"]}], True),
    ([{**PODS_RW, "resources": ["*/status"]}], [{**PODS_RW, "resources": ["pods/status"]}], True),
    ([PODS_RW], [{**PODS_RW, "resources": ["pods/status"]}], False),
    ([{"nonResourceURLs": ["/metrics*"], "verbs": ["get"]}], [{"nonResourceURLs": ["/metrics/x"], "verbs": ["get"]}],
     True),
    ([ALL], [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}], False),
    ([PODS_RW], [], True),
], ids=["all-covers", "pods-not-all", "verb-subset", "extra-verb", "same-name", "name-not-all",
        "sub-wildcard", "star-sub", "sub-not-covered", "url-prefix", "resources-not-urls", "empty"])
def test_covers(owner: list[dict], wanted: list[dict], ok: bool) -> None:
    assert covers(owner, wanted) is ok
    assert (uncovered(owner, wanted) == []) is ok


def test_non_resource_rules_match_paths_only() -> None:
    metrics = {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}
    assert rule_allows(metrics, Attributes("get", "", "", path="/metrics"))
    assert not rule_allows(metrics, Attributes("get", "", "", path="/metricsx"))
    assert not rule_allows(ALL, Attributes("get", "", "", path="/metrics"))
    assert not rule_allows(metrics, Attributes("get", "", "pods"))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_token_expiry_list_and_revoke(tmp_path: Path) -> None:
    clock = Clock()
    tokens = TokenFile(tmp_path / "tokens", clock)
    short = tokens.create("bob", ("devs",), expires_in=60)
    forever = tokens.create("carol")
    assert tokens.authenticate(short).name == "bob"
    clock.now += 60
    with pytest.raises(UnauthorizedError, match="expired at"):
        tokens.authenticate(short)
    assert tokens.authenticate(forever).name == "carol"
    # Reloaded from the file: the same ids, users and expiry; no raw token stored.
    again = TokenFile(tmp_path / "tokens", clock)
    assert [r.to_obj() for r in again.list()] == [r.to_obj() for r in tokens.list()]
    assert short not in (tmp_path / "tokens").read_text() and forever not in (tmp_path / "tokens").read_text()
    bob_id = next(r.id for r in again.list() if r.user.name == "bob")
    assert again.list()[0].to_obj()["expires"] == "1970-01-12T13:47:40Z"
    with pytest.raises(BadRequestError, match="too short"):
        again.revoke(bob_id[:3])
    assert again.revoke(bob_id[:6]).user.name == "bob"
    with pytest.raises(NotFoundError):
        again.revoke(bob_id)
    with pytest.raises(BadRequestError):
        again.create("x", expires_in=0)


def test_old_token_lines_still_authenticate(tmp_path: Path) -> None:
    import hashlib
    (tmp_path / "tokens").write_text(f"{hashlib.sha256(b'old').hexdigest()},system:admin,system:cluster-admins\n")
    tokens = TokenFile(tmp_path / "tokens")
    assert tokens.authenticate("old").is_cluster_admin
    assert tokens.list()[0].to_obj()["expires"] is None


@pytest.mark.parametrize("name, bad", [("default", True), ("kube-x", True), ("openshift-y", True), ("kube", True),
                                       ("kubex", False), ("my-openshift-z", False), ("p1", False)])
def test_reserved_project_names(name: str, bad: bool) -> None:
    assert (reserved_problem(name) is not None) is bad


def test_requested_metadata_keeps_display_name_and_description() -> None:
    meta, warnings = requested_metadata({"name": "p", "labels": {"a": "b"}, "annotations": {
        "openshift.io/display-name": "P", "openshift.io/description": "d", "openshift.io/requester": "eve"}})
    assert meta == {"name": "p", "annotations": {"openshift.io/display-name": "P", "openshift.io/description": "d"}}
    assert [w.split(" dropped")[0] for w in warnings] == ["metadata.labels[a]",
                                                          "metadata.annotations[openshift.io/requester]"]


def test_project_update_changes_only_display_name_and_description() -> None:
    old = {"metadata": {"labels": {"a": "b"}, "annotations": {"openshift.io/requester": "alice"}}}
    ok = {"metadata": {"labels": {"a": "b"}, "annotations": {"openshift.io/requester": "alice",
                                                              "openshift.io/display-name": "New"}}}
    assert immutable_changes(ok, old) == []
    bad = {"metadata": {"labels": {}, "annotations": {"openshift.io/requester": "eve", "x/y": "1"}}}
    assert [e.field for e in immutable_changes(bad, old)] == [
        "metadata.labels[a]", "metadata.annotations[openshift.io/requester]", "metadata.annotations[x/y]"]
