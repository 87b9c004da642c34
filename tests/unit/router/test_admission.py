"""Host admission: the oldest claim wins, same-project path sharing, wildcard policy (upstream messages)."""

from __future__ import annotations

import itertools

import pytest

from osdn.router.admission import Claim, Verdict, compute_admission


def c(ns: str, name: str, host: str, created: str, path: str = "", wildcard: bool = False) -> Claim:
    return Claim(ns, name, host, path, wildcard, f"2026-01-01T00:00:{created}Z", f"uid-{ns}-{name}")


CASES = [
    ("other project older wins",
     [c("a", "old", "www.x.com", "01"), c("b", "new", "www.x.com", "02")],
     {("b", "new"): Verdict(False, "HostAlreadyClaimed", "a route in another namespace holds host www.x.com")}),
    ("same project same path: older wins, named",
     [c("a", "r1", "www.x.com", "01", "/p"), c("a", "r2", "www.x.com", "02", "/p")],
     {("a", "r2"): Verdict(False, "HostAlreadyClaimed", "route a/r1 has host www.x.com")}),
    ("same project different paths share",
     [c("a", "r1", "www.x.com", "01", "/p1"), c("a", "r2", "www.x.com", "02", "/p2"),
      c("a", "r3", "www.x.com", "03")], {}),
    ("other project different path still refused",
     [c("a", "r1", "www.x.com", "01", "/p1"), c("b", "r2", "www.x.com", "02", "/p2")],
     {("b", "r2"): Verdict(False, "HostAlreadyClaimed", "a route in another namespace holds host www.x.com")}),
    ("no host",
     [c("a", "r1", "", "01")],
     {("a", "r1"): Verdict(False, "NoHostValue", "no host value was defined for the route")}),
]


@pytest.mark.parametrize(("routes", "rejected"), [(r, x) for _, r, x in CASES], ids=[n for n, _, _ in CASES])
def test_admission_table(routes: list[Claim], rejected: dict[tuple[str, str], Verdict]) -> None:
    verdicts = compute_admission(routes)
    assert {k: v for k, v in verdicts.items() if not v.admitted} == rejected
    assert all(verdicts[r.key].admitted for r in routes if r.key not in rejected)


def test_verdicts_do_not_depend_on_event_order() -> None:
    routes = [c("a", "r1", "www.x.com", "03"), c("b", "r2", "www.x.com", "01"), c("b", "r3", "www.x.com", "02", "/q"),
              c("c", "r4", "w.x.com", "02", wildcard=True)]
    first = compute_admission(routes, allow_wildcards=True)
    for perm in itertools.permutations(routes):
        assert compute_admission(list(perm), allow_wildcards=True) == first
    assert first[("b", "r2")].admitted and first[("b", "r3")].admitted and not first[("a", "r1")].admitted


def test_a_route_changing_to_an_older_claims_host_takes_it_from_the_newer() -> None:
    """The seed: an older route that changes its host hijacks the host of a newer route."""
    older, newer = c("a", "older", "old.x.com", "01"), c("b", "newer", "www.x.com", "02")
    assert compute_admission([older, newer])[("b", "newer")].admitted
    moved = Claim("a", "older", "www.x.com", "", False, older.created, older.uid)
    assert not compute_admission([moved, newer])[("b", "newer")].admitted
    assert compute_admission([moved, newer])[("a", "older")].admitted


WILDCARD = [
    ("refused unless allowed", False,
     [c("a", "w", "any.x.com", "01", wildcard=True)],
     {("a", "w"): Verdict(False, "RouteNotAdmitted", "wildcard routes are not allowed")}),
    ("older wildcard of another project blocks hosts in its domain", True,
     [c("a", "w", "any.x.com", "01", wildcard=True), c("b", "h", "www.x.com", "02")],
     {("b", "h"): Verdict(False, "HostAlreadyClaimed", "a route in another namespace holds host www.x.com")}),
    ("same project wildcard and host coexist", True,
     [c("a", "w", "any.x.com", "01", wildcard=True), c("a", "h", "www.x.com", "02")], {}),
    ("older host of another project blocks the wildcard", True,
     [c("b", "h", "www.x.com", "01"), c("a", "w", "any.x.com", "02", wildcard=True)],
     {("a", "w"): Verdict(False, "HostAlreadyClaimed", "a route in another namespace holds host any.x.com")}),
    ("same project same path wildcards: older wins", True,
     [c("a", "w1", "one.x.com", "01", wildcard=True), c("a", "w2", "two.x.com", "02", wildcard=True)],
     {("a", "w2"): Verdict(False, "HostAlreadyClaimed",
                           "wildcard route a/w1 has host *.x.com, blocking two.x.com")}),
]


@pytest.mark.parametrize(("allow", "routes", "rejected"), [(a, r, x) for _, a, r, x in WILDCARD],
                         ids=[n for n, *_ in WILDCARD])
def test_wildcard_policy(allow: bool, routes: list[Claim], rejected: dict[tuple[str, str], Verdict]) -> None:
    verdicts = compute_admission(routes, allow_wildcards=allow)
    assert {k: v for k, v in verdicts.items() if not v.admitted} == rejected
