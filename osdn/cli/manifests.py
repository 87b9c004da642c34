"""Reading manifests for `create -f`, `apply -f`, `replace -f`, `delete -f`: files, directories, `-`.

A file may hold one object, a multi-document YAML stream, JSON, or a kube `List`. Errors name the
file (and document number) so the user can find the bad part; nothing is sent before all parse.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from osdn.api.decode import decode_json, decode_yaml_documents
from osdn.errors import BadRequestError

Obj = dict[str, Any]
_EXTS = (".yaml", ".yml", ".json")


def _documents(text: str, source: str) -> list[Obj]:
    """The objects of one file, decoded with the API server's bounds (osdn.api.decode: nesting depth,
    YAML alias expansion, JSON-only values), so a hostile manifest costs the CLI no more than the server."""
    is_json = text.lstrip().startswith(("{", "["))
    try:
        docs: list[Any] = [decode_json(text.encode()).value] if is_json else \
            [d for d in decode_yaml_documents(text.encode()) if d is not None]
    except BadRequestError as e:
        raise BadRequestError(f"error parsing {source}: invalid {'JSON' if is_json else 'YAML'}: {e.message}") \
            from None
    out: list[Obj] = []
    for i, doc in enumerate(docs):
        where = source if len(docs) == 1 else f"{source} (document {i + 1})"
        if isinstance(doc, list):
            doc = {"kind": "List", "items": doc}
        if not isinstance(doc, dict):
            raise BadRequestError(f"error parsing {where}: expected an object, got {type(doc).__name__}")
        if doc.get("kind") == "List" or str(doc.get("kind", "")).endswith("List") and "items" in doc:
            for j, item in enumerate(doc.get("items") or []):
                if not isinstance(item, dict):
                    raise BadRequestError(f"error parsing {where}: items[{j}] is not an object")
                out.append(item)
        else:
            out.append(doc)
    return out


def read_manifests(paths: tuple[str, ...], recursive: bool = False) -> list[tuple[str, Obj]]:
    """(source, object) for every object in the given files/dirs/`-`, in order."""
    result: list[tuple[str, Obj]] = []
    for p in paths:
        if p == "-":
            result += [("<stdin>", o) for o in _documents(sys.stdin.read(), "<stdin>")]
            continue
        path = Path(p)
        if path.is_dir():
            files = sorted(f for f in (path.rglob("*") if recursive else path.iterdir())
                           if f.is_file() and f.suffix in _EXTS)
        elif path.exists():
            files = [path]
        else:
            raise BadRequestError(f'the path "{p}" does not exist')
        for f in files:
            try:
                text = f.read_text()
            except OSError as e:
                raise BadRequestError(f"cannot read {f}: {e.strerror}") from None
            result += [(str(f), o) for o in _documents(text, str(f))]
    if not result:
        raise BadRequestError("no objects passed to the command (empty file or directory)")
    return result
