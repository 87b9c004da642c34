"""`wait_for`: the one polling wait of the test suite (`from polling import wait_for` in any test
module: tests/ is on sys.path through tests/conftest.py; `from conftest import` is ambiguous in
tests/unit, which has a conftest.py of its own; tests/conftest.py re-exports it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(fn: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll `fn` until it returns something true (returned); a generous deadline, as CI is loaded."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last value {value!r})")
        time.sleep(0.05)
