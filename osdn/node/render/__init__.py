"""Render: pure functions from a `NodeIntent` to the node's whole nftables state (`Ruleset`).

Two private tables, both named `osdn`: `bridge osdn` (anti-spoofing, multicast) and `inet osdn`
(conntrack-based isolation and NetworkPolicy). Nothing else in the kernel is described or touched.
"""

from __future__ import annotations

from osdn.node.intent import NodeIntent
from osdn.node.render.bridge import render_bridge_table
from osdn.node.render.inet import render_inet_table
from osdn.node.render.ruleset import Ruleset, ruleset_text

__all__ = ["render_node", "render_node_text"]


def render_node(intent: NodeIntent) -> Ruleset:
    """Pure: the complete desired nftables state of one node."""
    return Ruleset((render_inet_table(intent), render_bridge_table(intent)))


def render_node_text(intent: NodeIntent) -> str:
    """Pure: `render_node` as one nft script that replaces osdn's tables atomically."""
    return ruleset_text(render_node(intent))
