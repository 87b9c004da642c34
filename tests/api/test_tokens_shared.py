"""Several API servers sharing one data dir share its token file: a token minted or revoked by one
holds on the others at once (osdn.apiserver.auth.TokenFile re-reads the file when it changed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from osdn.apiserver.auth import TokenFile
from osdn.errors import UnauthorizedError


def test_a_token_minted_or_revoked_by_one_server_holds_on_the_other(tmp_path: Path) -> None:
    one, two = TokenFile(tmp_path / "tokens"), TokenFile(tmp_path / "tokens")
    alice = one.create("alice")
    bob = two.create("bob")                       # made on the other: alice's line is kept
    assert two.authenticate(alice).name == "alice" and one.authenticate(bob).name == "bob"
    assert {r.user.name for r in TokenFile(tmp_path / "tokens").list()} == {"alice", "bob"}
    two.revoke(next(r.id for r in two.list() if r.user.name == "alice"))
    with pytest.raises(UnauthorizedError):
        one.authenticate(alice)                   # revoked elsewhere: refused here too
    assert one.authenticate(bob).name == "bob"
