"""Generated garbage at every route of a real server: never a 5xx, and a 4xx writes nothing.

Two generators, both derandomized with bounded example counts so CI runs are repeatable and fast:
- Hypothesis: random methods, paths (every kind's collection, item and status paths, projects,
  watch, plus junk segments), content types, bodies (bytes, JSON-ish values, YAML text) and query
  parameters (timeoutSeconds, limit, resourceVersion, fieldValidation, dryRun, selectors, ...);
- schemathesis: requests generated from the server's own OpenAPI document (/openapi/v2).
"Nothing written" is checked on the store's resourceVersion (a list's metadata.resourceVersion),
which any write bumps; the server runs without controllers so nothing else writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osdn.api.registry import all_kinds
from tests.conftest import ServerProc, start_server

NS = "fz"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    server = start_server(Path(tmp_path_factory.mktemp("fuzz")), "--no-controllers")
    try:
        with server.http() as c:
            assert c.post("/api/v1/namespaces", json={"metadata": {"name": NS}}).status_code == 201
            assert c.post(f"/api/v1/namespaces/{NS}/configmaps",
                          json={"metadata": {"name": "victim"}, "data": {"a": "b"}}).status_code == 201
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(srv: ServerProc) -> Iterator[httpx.Client]:
    with srv.http() as c:
        yield c


def store_version(c: httpx.Client) -> int:
    return int(c.get("/api/v1/namespaces").json()["metadata"]["resourceVersion"])


def routes() -> list[str]:
    out = ["/api", "/apis", "/api/v1", "/apis/network.openshift.io/v1"]
    for info in all_kinds():
        base = info.path(NS if info.namespaced else None)
        name = NS if info.kind in ("Namespace", "Project") else "victim"
        out += [base, f"{base}/{name}", f"{base}/{name}/status", f"{base}/{name}/x/y"]
    return out


ROUTES = routes()
CONTENT_TYPES = ["application/json", "application/yaml", "application/merge-patch+json",
                 "application/json-patch+json", "application/strategic-merge-patch+json",
                 "application/apply-patch+yaml", "text/plain", "application/xml", "", "application/json; charset=x"]
PARAMS = ["watch", "timeoutSeconds", "limit", "resourceVersion", "fieldValidation", "dryRun", "labelSelector",
          "fieldSelector", "fieldManager", "force", "continue"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
        st.sampled_from(["metadata", "spec", "name", "kind", "apiVersion", "data", "op", "path", "value",
                         "preconditions", "resourceVersion", "uid", "labels", "podSelecter"]) | st.text(max_size=8),
        kids, max_size=4),
    max_leaves=15)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    json_values.map(lambda v: json.dumps({"apiVersion": "v1", "metadata": {"name": "victim"}, "spec": v}).encode()),
    st.sampled_from([b"a: &a [*a]", b"[" * 500, b'{"x": "\\ud800"}', b"x: !!binary aGk=", b"- a\n- b", b"null",
                     b'{"metadata": 1}', b"[]", b"{}", b"x: 2001-01-01"]),
)
paths = st.one_of(st.sampled_from(ROUTES),
                  st.builds(lambda base, junk: f"{base}/{junk}", st.sampled_from(ROUTES),
                            st.text(alphabet="abc.-_%/~:", min_size=1, max_size=12)))
queries = st.dictionaries(st.sampled_from(PARAMS), st.one_of(
    st.sampled_from(["true", "false", "1", "0", "-1", "abc", "Strict", "Warn", "Ignore", "All", "5", "1e3", ""]),
    st.text(max_size=10)), max_size=4)


@settings(max_examples=400, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]), path=paths,
       ctype=st.sampled_from(CONTENT_TYPES), body=bodies, params=queries)
def test_garbage_never_5xx_and_4xx_writes_nothing(client: httpx.Client, method: str, path: str, ctype: str,
                                                  body: bytes, params: dict[str, str]) -> None:
    if method == "DELETE" and not body.strip():
        body = b"{"     # keep the victims: an empty DELETE body is a valid delete
    if method == "GET" and params.get("timeoutSeconds", "0").isdigit():
        params["timeoutSeconds"] = "1"    # a valid watch ends in a second (garbage values stay: they are a 400)
    before = store_version(client)
    headers = {"Content-Type": ctype} if ctype else {}
    request = (method, path, params, ctype, body[:100])
    try:
        with client.stream(method, path, content=body if method != "GET" else None, params=params,
                           headers=headers) as r:
            code = r.status_code
            text = r.read() if code >= 400 else b""
    except httpx.TransportError as e:
        raise AssertionError(f"{request}: {e!r}") from None
    assert code < 500, (request, text[:300])
    if code >= 400:
        assert json.loads(text).get("kind") == "Status", text[:300]
        assert store_version(client) == before, (method, path, code, text[:300])


def test_schemathesis_against_the_openapi_document(srv: ServerProc, client: httpx.Client) -> None:
    import schemathesis

    doc = client.get("/openapi/v2").json()
    schema = schemathesis.openapi.from_dict(doc)
    failures: list[str] = []
    checked = 0
    headers = {"Authorization": f"Bearer {srv.admin_token}"}
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy()

        @settings(max_examples=3, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def run(case: Any) -> None:
            nonlocal checked
            if case.query is not None and case.query.get("watch") not in (None, "false", False):
                case.query["timeoutSeconds"] = 1
            response = case.call(base_url=srv.url, headers=headers, verify=str(srv.ca_file), timeout=10)
            checked += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                                f"{response.text[:200]}")

        run()
    assert checked > 50
    assert failures == []
