"""Any input, however malformed, is answered with a ValidationError (or accepted), never a crash."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osdn.api import registry
from osdn.api.kinds import hooks_for
from osdn.api.objects import prepare_create
from osdn.errors import ValidationError

KEYS = ["spec", "containers", "ports", "port", "name", "egress", "ingress", "to", "from", "selector", "template",
        "metadata", "labels", "podSelector", "ipBlock", "cidr", "except", "clusterNetworks", "CIDR", "subnet",
        "netid", "subsets", "rules", "roleRef", "subjects", "tls", "objects", "parameters", "env", "valueFrom"]
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.sampled_from(["", "x", "10.0.0.0/8", "TCP"]))
_json = st.recursive(_scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
                     max_leaves=20)
KINDS = [k for k in registry.all_kinds()]


@pytest.mark.parametrize("info", KINDS, ids=[k.kind for k in KINDS])
@settings(max_examples=30, deadline=None)
@given(body=st.dictionaries(st.sampled_from(KEYS), _json, max_size=5))
def test_garbage_is_rejected_cleanly(info: registry.KindInfo, body: dict[str, Any]) -> None:
    obj = {**copy.deepcopy(body), "apiVersion": info.api_version, "kind": info.kind, "metadata": {"name": "default"}}
    try:
        stored = prepare_create(info, obj, "p1" if info.namespaced else None, "now", "uid")
    except ValidationError as e:
        assert e.causes and all(c.field or c.message for c in e.causes)
        return
    hooks_for(info.kind).model.model_validate(stored, strict=True)
