"""Watches are a shared pool: `--max-connections` (1,000) counts them, so one project admin holding
1,000 watches used to turn every other client's request, nodes' and controllers' included, into a 503.
Each user may now hold `--max-watches-per-user` watches (default 100; here 3); the next is a 429, a
closed watch gives its slot back, and cluster admins are not counted.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ServerProc, module_server

srv = module_server("attack-watch", "--max-watches-per-user", "3")
PROJECTS = "/apis/project.openshift.io/v1/projects"


def tenant(srv: ServerProc, name: str) -> httpx.Client:
    with srv.http() as admin:
        token = admin.post("/osdn/v1/tokens", json={"user": name, "groups": []}).json()["token"]
    client = srv.http(token=token)
    r = client.post(PROJECTS, json={"apiVersion": "v1", "kind": "Project", "metadata": {"name": f"p-{name}"}})
    assert r.status_code == 201, r.text
    return client


@pytest.fixture(scope="module")
def users(srv: ServerProc) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    mallory, alice = tenant(srv, "mallory"), tenant(srv, "alice")
    yield mallory, alice
    mallory.close()
    alice.close()


def watch(client: httpx.Client, namespace: str) -> contextlib.AbstractContextManager[httpx.Response]:
    return client.stream("GET", f"/api/v1/namespaces/{namespace}/configmaps", params={"watch": "1"})


def test_a_user_holds_at_most_max_watches_and_others_are_unaffected(srv: ServerProc,
                                                                     users: tuple[httpx.Client, httpx.Client]) -> None:
    mallory, alice = users
    with contextlib.ExitStack() as held:
        for _ in range(3):
            assert held.enter_context(watch(mallory, "p-mallory")).status_code == 200
        with watch(mallory, "p-mallory") as refused:
            refused.read()
            assert refused.status_code == 429, refused.text
            body = refused.json()
            assert body["reason"] == "TooManyRequests" and 'user "mallory" has 3 open' in body["message"]
        with watch(alice, "p-alice") as other:          # another tenant is not affected
            assert other.status_code == 200
        with srv.http() as admin, contextlib.ExitStack() as admins:   # nor are cluster admins, nor counted
            for _ in range(5):
                assert admins.enter_context(watch(admin, "p-mallory")).status_code == 200
    deadline = time.monotonic() + 30   # the server sees the closed streams asynchronously
    while True:
        with watch(mallory, "p-mallory") as again:
            if again.status_code == 200:
                break
        assert time.monotonic() < deadline, "closed watches did not give their slots back"
        time.sleep(0.2)


def test_watches_that_ended_hold_no_slot(users: tuple[httpx.Client, httpx.Client]) -> None:
    """Five watches that ran out (timeoutSeconds) one after another, then three at once: all served."""
    mallory, _ = users
    for _ in range(5):
        r = mallory.get("/api/v1/namespaces/p-mallory/configmaps", params={"watch": "1", "timeoutSeconds": "1"})
        assert r.status_code == 200, r.text
    deadline = time.monotonic() + 30
    while True:
        with contextlib.ExitStack() as held:
            codes = [held.enter_context(watch(mallory, "p-mallory")).status_code for _ in range(3)]
        if codes == [200, 200, 200]:
            break
        assert time.monotonic() < deadline, codes
        time.sleep(0.2)
