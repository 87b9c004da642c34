"""Every well-formed object example of the seeds is accepted verbatim, and nothing written is lost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from osdn.api import registry
from osdn.api.kinds import hooks_for
from osdn.api.objects import prepare_create

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "seeds"
FILES = sorted(p for p in FIXTURES.iterdir() if p.suffix in (".yaml", ".json"))
NOW, UID = "2024-01-01T00:00:00Z", "00000000-0000-0000-0000-000000000001"


def load(path: Path) -> dict[str, Any]:
    text = path.read_text()
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def as_submitted(obj: dict[str, Any]) -> dict[str, Any]:
    """What the API server hands to prepare_create: nameless objects get a generated name."""
    meta = obj.setdefault("metadata", {})
    if not meta.get("name"):
        meta["name"] = f"{obj['kind'].lower()}-generated1"
    return obj


def missing(written: Any, stored: Any, path: str = "") -> list[str]:
    """Paths of everything in `written` that `stored` lost or changed."""
    if isinstance(written, dict):
        if not isinstance(stored, dict):
            return [path or "."]
        return [p for k, val in written.items()
                for p in ([f"{path}.{k}"] if k not in stored else missing(val, stored[k], f"{path}.{k}"))]
    if isinstance(written, list):
        if not isinstance(stored, list) or len(stored) != len(written):
            return [path]
        return [p for i, (a, b) in enumerate(zip(written, stored, strict=True)) for p in missing(a, b, f"{path}[{i}]")]
    return [] if written == stored or (written is None and stored == {}) else [path]


def test_fixtures_exist() -> None:
    assert len(FILES) >= 17


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_seed_example_is_accepted_and_kept(path: Path) -> None:
    written = as_submitted(load(path))
    info = registry.for_object(written)
    stored = prepare_create(info, written, "p1" if info.namespaced else None, NOW, UID)
    body = {k: val for k, val in written.items() if k != "apiVersion"}
    assert missing(body, stored) == []
    assert stored["apiVersion"] == info.api_version
    assert stored["metadata"]["uid"] == UID


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_seed_example_reads_back_through_model(path: Path) -> None:
    written = as_submitted(load(path))
    info = registry.for_object(written)
    stored = prepare_create(info, written, "p1" if info.namespaced else None, NOW, UID)
    model = hooks_for(info.kind).model
    assert model.model_validate(stored).to_obj() == stored
    assert model.model_validate(stored, strict=True).to_obj() == stored
