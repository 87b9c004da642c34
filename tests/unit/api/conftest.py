"""Helpers for the api unit tests: run an object through the real create/update pipeline."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from osdn.api import registry
from osdn.api.objects import prepare_create, prepare_update
from osdn.errors import ValidationError

Obj = dict[str, Any]
NOW, UID = "2024-01-01T00:00:00Z", "00000000-0000-0000-0000-000000000001"


def create(obj: Obj) -> Obj:
    info = registry.for_object(obj)
    return prepare_create(info, copy.deepcopy(obj), "p1" if info.namespaced else None, NOW, UID)


def run(obj: Obj, old: Obj | None = None) -> list[str]:
    """'field: message' for every problem found (empty when accepted); `old` makes it an update."""
    info = registry.for_object(obj)
    try:
        if old is None:
            create(obj)
        else:
            prepare_update(info, copy.deepcopy(obj), create(old))
    except ValidationError as e:
        return [str(c) for c in e.causes]
    return []


@pytest.fixture
def problems() -> Callable[..., list[str]]:
    return run


@pytest.fixture
def created() -> Callable[[Obj], Obj]:
    return create
