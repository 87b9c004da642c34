"""Parse `nft -j list table` output into the `Table` type that render produces.

Pure. Elements become the same canonical text `render.elements` writes; rules become their comment
(the rule key render wrote); a rule without an osdn comment becomes `<foreign handle N>`, which never
equals a desired key, so a hand-added rule forces a replace of the table.
"""

from __future__ import annotations

from typing import Any

from osdn.node.render.ruleset import Chain, Set, Table

Json = dict[str, Any]


def parse_table(objs: list[Json]) -> Table:
    """Pure: the objects of one `list table` answer (metainfo stripped) -> `Table` (observed)."""
    head = next(o["table"] for o in objs if "table" in o)
    counters = tuple(o["counter"]["name"] for o in objs if "counter" in o)
    sets = tuple(_parse_set(o.get("set") or o["map"]) for o in objs if "set" in o or "map" in o)
    rules: dict[str, list[str]] = {}
    for o in objs:
        if "rule" in o:
            r = o["rule"]
            rules.setdefault(r["chain"], []).append(r.get("comment") or f"<foreign handle {r.get('handle')}>")
    chains = tuple(_parse_chain(o["chain"], rules.get(o["chain"]["name"], [])) for o in objs if "chain" in o)
    return Table(head["family"], head["name"], counters, sets, chains)


def _parse_chain(c: Json, keys: list[str]) -> Chain:
    if "hook" in c:
        return Chain(c["name"], tuple(keys), hook=c["hook"], type=c.get("type", "filter"),
                     prio=int(c.get("prio", 0)), policy=c.get("policy", "accept"), observed=True)
    return Chain(c["name"], tuple(keys), observed=True)


def _parse_set(s: Json) -> Set:
    typ = tuple(s["type"]) if isinstance(s["type"], list) else (s["type"],)
    map_to = s.get("map")
    if isinstance(map_to, list):  # a concatenated map type, e.g. `ipv4_addr . inet_service`
        map_to = " . ".join(map_to)
    elems = frozenset(_elem_text(e, typ, map_to) for e in s.get("elem", []))
    return Set(s["name"], typ, elems, tuple(s.get("flags", ())), map_to)


def _elem_text(e: Any, typ: tuple[str, ...], map_to: str | None) -> str:
    if isinstance(e, dict) and "elem" in e:  # element with attributes (counter, timeout, ...)
        e = e["elem"]["val"]
    if map_to is not None:
        key, val = e
        return f"{_key_text(key, typ)} : {_value_text(val)}"
    return _key_text(e, typ)


def _key_text(v: Any, typ: tuple[str, ...]) -> str:
    parts = v["concat"] if isinstance(v, dict) and "concat" in v else [v]
    return " . ".join(_atom(p, t) for p, t in zip(parts, typ, strict=True))


def _atom(v: Any, typ: str) -> str:
    if isinstance(v, dict):
        if "prefix" in v:
            p = v["prefix"]
            return p["addr"] if p["len"] == 32 else f"{p['addr']}/{p['len']}"
        if "range" in v:
            a, b = v["range"]
            return f"{_atom(a, typ)}-{_atom(b, typ)}"
        raise ValueError(f"unexpected element expression {v!r} for type {typ}")
    if typ == "ifname":
        return f'"{v}"'
    if typ == "ether_addr":
        return str(v).lower()
    return str(v)


def _value_text(v: Any) -> str:
    if isinstance(v, dict):
        for verdict in ("jump", "goto"):
            if verdict in v:
                return f"{verdict} {v[verdict]['target']}"
        for verdict in ("accept", "drop", "return", "continue"):
            if verdict in v:
                return verdict
        if "concat" in v:  # e.g. a DNAT map's `ip . port`
            return " . ".join(str(x) for x in v["concat"])
        raise ValueError(f"unexpected map value {v!r}")
    return str(v)
