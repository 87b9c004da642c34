"""Several server URLs (osdn.client.failover): the list as written, which URL goes first, and which
failed requests may move on to the next server."""

from __future__ import annotations

import httpx

from osdn.client.failover import Endpoints, endpoints_for, may_move_on, normalize, server_urls


def test_a_comma_separated_list_is_read_without_blanks_or_trailing_slashes() -> None:
    assert server_urls(" https://a:8443/, ,https://b:8443 ") == ["https://a:8443", "https://b:8443"]
    assert normalize("https://a:8443/") == "https://a:8443"


def test_a_failed_url_sends_later_requests_to_the_next_one_and_wraps_around() -> None:
    e = Endpoints(["a", "b", "c"])
    assert e.order() == ["a", "b", "c"]
    e.failed("a")
    assert e.order() == ["b", "c", "a"]
    e.failed("a")                      # another thread's late report about "a": no second move
    assert e.order() == ["b", "c", "a"]
    e.failed("b")
    e.failed("c")
    assert e.order() == ["a", "b", "c"]


def test_clients_naming_the_same_list_share_what_they_learnt() -> None:
    first = endpoints_for("https://x1:1,https://x2:1")
    first.failed("https://x1:1")
    assert endpoints_for("https://x1:1/, https://x2:1").order()[0] == "https://x2:1"


def test_only_requests_that_cannot_have_been_applied_move_on() -> None:
    assert may_move_on(httpx.ConnectError("refused"), "POST")
    assert may_move_on(httpx.ConnectTimeout("slow"), "DELETE")
    assert may_move_on(httpx.ReadError("cut"), "GET")
    assert not may_move_on(httpx.ReadError("cut"), "POST")
    assert not may_move_on(httpx.RemoteProtocolError("closed"), "PUT")
