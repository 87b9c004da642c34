"""A watch whose client left before its stream started (the handler answered, the response never
ran) stops receiving events and gives its slot back once the stream is dropped: its generator never
runs, so its `finally` cannot."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from starlette.requests import Request

from osdn.api.labels import parse
from osdn.api.registry import by_kind
from osdn.apiserver.app import Api, Target
from osdn.apiserver.auth import User
from osdn.apiserver.server import ServerConfig, build


def test_a_dropped_unstarted_watch_leaves_no_subscription_and_no_slot(tmp_path: Path) -> None:
    srv = build(ServerConfig(data_dir=tmp_path / "data", insecure_http=True))
    api = Api(srv.store, srv.tokens, srv.resources, srv.projects)
    subs = srv.store._subs  # type-specific: the SQLite store's subscribers
    before = len(subs)
    tenant = User("alice", ("system:authenticated",))
    target = Target(by_kind("ConfigMap"), "default", "", "")
    request = Request({"type": "http", "method": "GET", "path": "/api/v1/namespaces/default/configmaps",
                       "query_string": f"watch=1&resourceVersion={srv.store.current_rv()}".encode(), "headers": []})

    async def watch_and_drop() -> None:
        release = api.watch_slots.take(tenant)
        response = await api._watch(request, tenant, target, parse(""), {}, release)
        assert len(subs) == before + 1 and api.watch_slots._held == {"alice": 1}
        del response

    asyncio.run(watch_and_drop())
    gc.collect()
    assert len(subs) == before
    assert api.watch_slots._held == {}
