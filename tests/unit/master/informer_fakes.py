"""In-memory stand-ins for the master's shared informers, for controller unit tests."""

from __future__ import annotations

from types import SimpleNamespace


class FakeInformer:
    def __init__(self, kind: str) -> None:
        self.info = SimpleNamespace(kind=kind)
        self.objs: dict[str, dict] = {}
        self.handlers: list = []

    def items(self, namespace: str | None = None) -> list[dict]:
        return [o for o in self.objs.values()
                if namespace is None or (o.get("metadata") or {}).get("namespace", "") == namespace]

    def get(self, name: str, namespace: str = "") -> dict | None:
        return self.objs.get(name)


class _ByKind(dict[str, FakeInformer]):
    def __missing__(self, kind: str) -> FakeInformer:
        self[kind] = FakeInformer(kind)
        return self[kind]


class FakeInformers:
    """One FakeInformer per kind (`by_kind[kind]`), made on first use, as `Informers.on` hands them out."""

    def __init__(self) -> None:
        self.by_kind = _ByKind()

    def on(self, kind: str, handler: object) -> FakeInformer:
        self.by_kind[kind].handlers.append(handler)
        return self.by_kind[kind]
