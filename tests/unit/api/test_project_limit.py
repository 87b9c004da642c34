"""ProjectRequestLimit's configuration and refusal (osdn.apiserver.plugins.projectlimit)."""

from __future__ import annotations

from typing import Any

import pytest

from osdn.apiserver.plugins.projectlimit import DEFAULT_MAX_PROJECTS, max_projects, refusal
from osdn.errors import BadRequestError


@pytest.mark.parametrize(("config", "limit"), [
    (None, DEFAULT_MAX_PROJECTS),                                              # not configured
    ({}, None),                                                                # configured, no limits
    ({"limits": [{"maxProjects": 3}]}, 3),
    ({"limits": [{"selector": {"level": "admin"}, "maxProjects": 9}, {"maxProjects": 2}]}, 2),
    ({"limits": [{"selector": {}, "maxProjects": 0}]}, 0),
    ({"limits": [{"selector": {"level": "admin"}}, {}]}, None),                # the matching entry has no limit
    ({"limits": [{"selector": {"level": "admin"}, "maxProjects": 1}]}, None),  # osdn users have no labels
])
def test_the_first_limit_matching_an_unlabelled_user_applies(config: Any, limit: int | None) -> None:
    assert max_projects(config) == limit


@pytest.mark.parametrize("config", [{"limits": "x"}, {"limits": [3]}, {"limits": [{"maxProjects": -1}]},
                                    {"limits": [{"maxProjects": "2"}]}, {"limits": [{"maxProjects": True}]}])
def test_a_malformed_configuration_is_refused(config: Any) -> None:
    with pytest.raises(BadRequestError, match="ProjectRequestLimit"):
        max_projects(config)


def test_refusal_is_upstreams_message_at_the_limit() -> None:
    assert refusal("alice", 2, 1) is None
    assert refusal("alice", 2, 2) == "user alice cannot create more than 2 project(s)."
    assert refusal("bob", 0, 0) == "user bob cannot create more than 0 project(s)."
