"""OpenShift's own HSTS test vectors: the router's and the required HSTS policies'.

- openshift/router pkg/router/router_test.go TestConfigTemplate (the HSTS cases): the header line in
  the route's backend, exactly, or none; plus where Go's RE2 and Python's re differ (`\\s`, `\\d`,
  case folding), since the template matches with Go.
- openshift/openshift-apiserver requiredrouteannotations admission_test.go TestValidate: every case
  through the real write path (Resources over a SQLite store, config.openshift.io Ingress `cluster`
  stored and validated, namespaces with labels), refusals with upstream's messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from osdn.api.hsts import hsts_header, ignored_because
from osdn.api.hsts_policy import glob_match, route_hsts
from osdn.api.registry import by_kind, for_object
from osdn.apiserver.admission import AdmissionChain
from osdn.apiserver.auth import CLUSTER_ADMINS, Authorizer, User
from osdn.apiserver.plugins.requiredroute import INGRESS_CONFIG, RequiredRouteAnnotations
from osdn.apiserver.resources import Resources
from osdn.errors import ForbiddenError, ValidationError
from osdn.store.sqlite import SQLiteStore
from tests.unit.router.router_builders import route
from tests.unit.router.test_render import plan_files, section

Obj = dict[str, Any]
HSTS = "haproxy.router.openshift.io/hsts_header"
ROUTER_CASES = [  # (case, annotation, header value or None)
    ("Simple HSTS header", "max-age=99999;includeSubDomains;preload", "max-age=99999;includeSubDomains;preload"),
    ("Simple HSTS header 2", "max-age=99999;includeSubDomains", "max-age=99999;includeSubDomains"),
    ("Case insensitive, with white spaces", "max-age=99999 ;  includesubdomains;  PREload",
     "max-age=99999 ;  includesubdomains;  PREload"),
    ("Quotes in HSTS header", 'max-age="99999"', 'max-age="99999"'),
    ("Equal sign with LWS", 'max-age  =  "99999"', 'max-age  =  "99999"'),
    ("Required directive missing", "min-age=99999", None),
    ("Wrong HSTS header directive", "max-age=99999;includesubdomains;preload;wrongdirective", None),
    ("Typo in HSTS header directive", "max-age=99999;includesubdomain", None),
]


@pytest.mark.parametrize(("case", "value", "header"), ROUTER_CASES, ids=[c for c, _, _ in ROUTER_CASES])
def test_router_template_vectors(case: str, value: str, header: str | None) -> None:
    cfg = plan_files(route("b", "bexample.com", tls={"termination": "edge"}, annotations={HSTS: value}))["haproxy.cfg"]
    lines = {line for line in section(cfg, "backend be_edge_http:p1:b") if "Strict-Transport-Security" in line}
    assert lines == ({f"http-response set-header Strict-Transport-Security '{header}'"} if header else set())


@pytest.mark.parametrize("value", [
    "max-age=\u0663",  # an Arabic-Indic digit: Python's \d, not RE2's
    "max-age=1\v;preload",  # vertical tab: Python's \s, not RE2's
    "max-age=1;\u00a0preload",  # no-break space
    "max-age=1;\u0130ncludeSubDomains",  # dotted capital I: Python's re.I folds it to i, RE2 does not
    "max-age=1;preload ",  # the whole value must match
])
def test_router_ignores_what_go_regexp_does_not_match(value: str) -> None:
    assert hsts_header(value, "edge") is None
    assert ignored_because(value) is not None


def test_the_api_warning_names_a_space_go_does_not_take() -> None:
    assert ignored_because("max-age=1\v;preload") == "only spaces, tabs, CR, LF and form feeds may surround ';' and '='"


@pytest.mark.parametrize("value", ["max-age=1;include\u017fubdomains", "max-age=1\n;\tpreload\f;\rpreload", "MAX-AGE=7"])
def test_router_keeps_what_go_regexp_matches(value: str) -> None:
    assert hsts_header(value, "reencrypt") == value


ADMIN = User("admin", (CLUSTER_ADMINS,))
ROUTE = by_kind("Route")
NAMESPACES = {"labeledNamespace": {"www.foo.com": "bar"}, "unlabeledNamespace": {"default": ""},
              "matchingDomainNamespace": {"abc.foo.com": ""}, "nonmatchingDomainNamespace": {"abc.com": ""}}
FIVENINES = 99999
NONEMPTY = [{"domainPatterns": ["abc.foo.com", "www.foo.com"], "maxAge": {"largestMaxAge": FIVENINES, "smallestMaxAge": 0},
             "preloadPolicy": "RequirePreload", "includeSubDomainsPolicy": "RequireIncludeSubDomains"}]
WILDCARD = [{"domainPatterns": ["*.foo.com"], "maxAge": {"largestMaxAge": FIVENINES, "smallestMaxAge": 0}}]
WILDCARD2 = [{"domainPatterns": ["*.foo.com", "foo.com"], "maxAge": {"largestMaxAge": FIVENINES, "smallestMaxAge": 0}}]
NO_POLICY = [{"domainPatterns": ["abc.foo.com", "www.foo.com"], "maxAge": {}, "preloadPolicy": "NoOpinion",
              "includeSubDomainsPolicy": "NoOpinion"}]
NAMESPACE_MATCH = [{"namespaceSelector": {"matchLabels": {"www.foo.com": "bar"}},
                    "domainPatterns": ["abc.foo.com", "www.foo.com"],
                    "maxAge": {"largestMaxAge": FIVENINES, "smallestMaxAge": 0}, "preloadPolicy": "RequirePreload",
                    "includeSubDomainsPolicy": "NoOpinion"}]
MULTIPLE = NAMESPACE_MATCH + [{"domainPatterns": ["abc.foo.com"], "maxAge": {"largestMaxAge": 99, "smallestMaxAge": 1},
                               "preloadPolicy": "RequireNoPreload", "includeSubDomainsPolicy": "RequireNoIncludeSubDomains"}]
REENCRYPT = {"termination": "reencrypt"}
MISSING = "HSTS max-age must be set correctly in HSTS annotation"
# TestValidate: (name, policies, annotation, old annotation (None: CREATE; "" : UPDATE without one),
#                namespace, host, tls, forbidden clause or None)
CASES: list[tuple[str, list[Obj], str | None, str | None, str, str, Obj | None, str | None]] = [
    ("config1", [], None, None, "unlabeledNamespace", "", REENCRYPT, None),
    ("config1.1", NO_POLICY, "max-age=;preload ; includesubdomains", None, "matchingDomainNamespace", "abc.foo.com",
     REENCRYPT, MISSING),
    ("config1.2", NONEMPTY, None, None, "matchingDomainNamespace", "abc.foo.com", REENCRYPT, MISSING),
    ("config1.3", NONEMPTY, None, "", "matchingDomainNamespace", "abc.foo.com", REENCRYPT, None),
    ("config1.4", NONEMPTY, None, "max-age=9000", "matchingDomainNamespace", "abc.foo.com", REENCRYPT, MISSING),
    ("config1.5", NONEMPTY, None, None, "matchingDomainNamespace", "abc.foo.com", None, None),
    ("config1.6", NONEMPTY, None, None, "matchingDomainNamespace", "abc.foo.com", {"termination": "passthrough"},
     None),
    ("config2", NONEMPTY, "max-age=9000;preload ; includesubdomains", None, "matchingDomainNamespace", "abc.foo.com",
     REENCRYPT, None),
    ("config3", NONEMPTY, "max-age=9000; misspeledpreload", None, "matchingDomainNamespace", "abc.foo.com", REENCRYPT,
     "HSTS preload must be specified"),
    ("config3.1", MULTIPLE, "max-age=99; preload", None, "nonmatchingDomainNamespace", "abc.foo.com", REENCRYPT,
     "HSTS preload must not be specified"),
    ("config3.2", MULTIPLE, "max-age=99; includesubdomains", None, "nonmatchingDomainNamespace", "abc.foo.com",
     REENCRYPT, "HSTS includeSubDomains must not be specified"),
    ("config4", NONEMPTY, "max-age=9000; misspeledpreload", None, "nonmatchingDomainNamespace", "def.com", REENCRYPT,
     None),
    ("config5", NAMESPACE_MATCH, "max-age=9000; misspeledpreload", None, "labeledNamespace", "abc.foo.com", REENCRYPT,
     "HSTS preload must be specified"),
    ("config6", MULTIPLE, "max-age=90", None, "unlabeledNamespace", "abc.foo.com", REENCRYPT, None),
    ("config7", MULTIPLE, "   max-age=9999 ", None, "unlabeledNamespace", "abc.foo.com", REENCRYPT,
     "HSTS max-age is greater than maximum age 99s"),
    ("config7.1", MULTIPLE, "   max-age=0 ", None, "unlabeledNamespace", "abc.foo.com", REENCRYPT,
     "HSTS max-age is less than minimum age 1s"),
    ("config8", MULTIPLE, "   max-age= ", None, "unlabeledNamespace", "abc.foo.com", REENCRYPT, MISSING),
    ("config9.1", WILDCARD, "   max-age= ", None, "unlabeledNamespace", "abc.foo.com", REENCRYPT, MISSING),
    ("config9.2", WILDCARD, "   max-age= ", None, "unlabeledNamespace", "foo.com", REENCRYPT, None),
    ("config9.3", WILDCARD2, "   max-age= ", None, "unlabeledNamespace", "foo.com", REENCRYPT, MISSING),
]


@pytest.fixture
def res(tmp_path: Path) -> Iterator[Resources]:
    store = SQLiteStore(tmp_path / "db")
    try:
        r = Resources(store, Authorizer(store), AdmissionChain([RequiredRouteAnnotations()]))
        for name, labels in NAMESPACES.items():
            r.create(ADMIN, by_kind("Namespace"), "", {"metadata": {"name": name.lower(), "labels": labels}})
        yield r
    finally:
        store.close()


def _config(policies: list[Obj]) -> Obj:
    return {"apiVersion": "config.openshift.io/v1", "kind": "Ingress", "metadata": {"name": "cluster"},
            "spec": {"domain": "apps.example.com", "requiredHSTSPolicies": policies}}


def _route(name: str, host: str, tls: Obj | None, annotation: str | None) -> Obj:
    spec: Obj = {"host": host, "to": {"kind": "Service", "name": "web"}} if host else {"to": {"kind": "Service",
                                                                                              "name": "web"}}
    if tls is not None:
        spec["tls"] = tls
    annotations = {} if annotation is None else {HSTS: annotation}
    return {"apiVersion": "route.openshift.io/v1", "kind": "Route",
            "metadata": {"name": name.replace(".", "-"), "annotations": annotations}, "spec": spec}


@pytest.mark.parametrize(("name", "policies", "annotation", "old", "ns", "host", "tls", "clause"), CASES,
                         ids=[c[0] for c in CASES])
def test_required_hsts_policy_vectors(res: Resources, name: str, policies: list[Obj], annotation: str | None,
                                      old: str | None, ns: str, host: str, tls: Obj | None, clause: str | None) -> None:
    if old is not None:  # the old route was admitted before the policy existed
        stored = res.create(ADMIN, ROUTE, ns.lower(), _route(name, host, tls, old or None)).obj
        res.create(ADMIN, INGRESS_CONFIG, "", _config(policies))
        body = _route(name, host, tls, annotation)
        body["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"]
        call = lambda: res.update(ADMIN, ROUTE, ns.lower(), body["metadata"]["name"], body)  # noqa: E731
    else:
        res.create(ADMIN, INGRESS_CONFIG, "", _config(policies))
        call = lambda: res.create(ADMIN, ROUTE, ns.lower(), _route(name, host, tls, annotation))  # noqa: E731
    if clause is None:
        call()
        return
    with pytest.raises(ForbiddenError) as err:
        call()
    route_name = name.replace(".", "-")
    assert err.value.message == f'routes.route.openshift.io "{route_name}" is forbidden: {clause}'
    assert err.value.code == 403


def test_status_ingress_hosts_count_and_an_update_that_keeps_hsts_is_not_judged(res: Resources) -> None:
    body = _route("r", "other.example.com", REENCRYPT, "max-age=5")
    stored = res.create(ADMIN, ROUTE, "unlabelednamespace", body).obj
    res.create(ADMIN, INGRESS_CONFIG, "", _config(MULTIPLE))
    stored["spec"]["host"] = "abc.foo.com"  # the same annotation: upstream skips the check
    res.update(ADMIN, ROUTE, "unlabelednamespace", "r", stored)
    refused = _route("s", "zzz.example.com", REENCRYPT, "max-age=5000")
    refused["status"] = {"ingress": [{"host": "abc.foo.com", "routerName": "default"}]}
    with pytest.raises(ForbiddenError, match="greater than maximum age 99s"):
        res.create(ADMIN, ROUTE, "unlabelednamespace", refused)


def test_no_ingress_cluster_no_policy_and_other_names_do_not_count(res: Resources) -> None:
    other = _config(NONEMPTY)
    other["metadata"]["name"] = "other"
    res.create(ADMIN, INGRESS_CONFIG, "", other)
    res.create(ADMIN, ROUTE, "matchingdomainnamespace", _route("r", "abc.foo.com", REENCRYPT, None))


@pytest.mark.parametrize(("policy", "message"), [
    ({"maxAge": {}}, "spec.requiredHSTSPolicies[0].domainPatterns: Required value"),
    ({"domainPatterns": [], "maxAge": {}}, "spec.requiredHSTSPolicies[0].domainPatterns: Invalid value: 0: "
                                           "spec.requiredHSTSPolicies[0].domainPatterns in body should have at least 1 items"),
    ({"domainPatterns": ["a"]}, "spec.requiredHSTSPolicies[0].maxAge: Required value"),
    ({"domainPatterns": ["a"], "maxAge": {"largestMaxAge": -1}},
     "spec.requiredHSTSPolicies[0].maxAge.largestMaxAge: Invalid value: -1: "
     "spec.requiredHSTSPolicies[0].maxAge.largestMaxAge in body should be greater than or equal to 0"),
    ({"domainPatterns": ["a"], "maxAge": {"smallestMaxAge": 2147483648}},
     "spec.requiredHSTSPolicies[0].maxAge.smallestMaxAge: Invalid value: 2147483648: "
     "spec.requiredHSTSPolicies[0].maxAge.smallestMaxAge in body should be less than or equal to 2147483647"),
    ({"domainPatterns": ["a"], "maxAge": {}, "preloadPolicy": "Always"},
     'spec.requiredHSTSPolicies[0].preloadPolicy: Unsupported value: "Always": supported values: "RequirePreload", '
     '"RequireNoPreload", "NoOpinion"'),
    ({"domainPatterns": ["a"], "maxAge": {}, "includeSubDomainsPolicy": "Yes"},
     'spec.requiredHSTSPolicies[0].includeSubDomainsPolicy: Unsupported value: "Yes": supported values: '
     '"RequireIncludeSubDomains", "RequireNoIncludeSubDomains", "NoOpinion"'),
])
def test_the_ingress_config_is_validated_as_its_crd(res: Resources, policy: Obj, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        res.create(ADMIN, INGRESS_CONFIG, "", _config([policy]))
    assert message in err.value.message


def test_ingress_config_and_networking_ingress_are_two_kinds() -> None:
    assert for_object(_config([])) is INGRESS_CONFIG and not INGRESS_CONFIG.namespaced
    assert for_object({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"}).group == "networking.k8s.io"
    assert by_kind("Ingress").group == "networking.k8s.io"


@pytest.mark.parametrize(("value", "read"), [
    ("max-age=31536000;preload;includeSubDomains", (31536000, True, True)),
    ("MAX-AGE=5; PreLoad", (5, True, False)),
    ('max-age="5"', "HSTS max-age must be set correctly in HSTS annotation"),  # the plugin does not read quotes
    ("max-age=99999999999", 'strconv.ParseInt: parsing "99999999999": value out of range'),
    ("max-age=1;include\u017fubdomains", (1, False, True)),  # strings.EqualFold folds the long s
    ("xmax-age=7;preload;", (7, True, False)),  # the regexp is not anchored
    ("max-age\t=7", "HSTS max-age must be set correctly in HSTS annotation"),  # only spaces are removed
])
def test_annotation_as_the_plugin_reads_it(value: str, read: tuple[int, bool, bool] | str) -> None:
    got = route_hsts(value)
    assert (got if isinstance(got, str) else (got.max_age, got.preload, got.include_subdomains)) == read


@pytest.mark.parametrize(("pattern", "host", "match"), [
    ("*.foo.com", "abc.foo.com", True), ("*.foo.com", "a.b.foo.com", True), ("*.foo.com", "foo.com", False),
    ("foo.com", "foo.com", True), ("w?w.foo.com", "www.foo.com", True), ("[a-c]bc.foo.com", "abc.foo.com", True),
    ("[^a]bc.foo.com", "abc.foo.com", False), ("\\*.foo.com", "*.foo.com", True), ("*", "a/b", False),
])
def test_domain_patterns_are_go_filepath_globs(pattern: str, host: str, match: bool) -> None:
    assert glob_match(pattern, host) is match
