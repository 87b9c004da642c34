"""Kinds of group 'rbac': models, defaulting and validation. Pure."""

from __future__ import annotations

from osdn.api.kinds import Hooks

HOOKS: dict[str, Hooks] = {}
