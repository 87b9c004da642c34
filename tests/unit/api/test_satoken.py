"""Service account tokens: the pure TokenRequest parsing and claim checks (osdn.api.satoken, `now`
passed in), the signer and authenticator over a real SQLite store with an injected clock
(osdn.apiserver.satoken), and the pure part of the ServiceAccounts controller."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from osdn.api import satoken
from osdn.api.registry import by_kind
from osdn.apiserver.admission import AdmissionChain
from osdn.apiserver.auth import CLUSTER_ADMINS, Authorizer, TokenFile, User
from osdn.apiserver.resources import Resources
from osdn.apiserver.satoken import ServiceAccountTokens, SigningKey
from osdn.cli.server_satoken import token_options
from osdn.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
    ValidationError,
)
from osdn.master.serviceaccounts import missing_accounts, terminating
from osdn.store.sqlite import SQLiteStore

Obj = dict[str, Any]
ADMIN = User("admin", (CLUSTER_ADMINS,))
ISSUER, AUD = "https://issuer.test", ("https://issuer.test",)
T0 = 1_800_000_000


# ---- pure: TokenRequest ---------------------------------------------------------------------------

def _spec(spec: Obj, maximum: int = 86400) -> satoken.TokenRequestSpec:
    return satoken.parse_token_request({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                        "spec": spec}, AUD, maximum)


def test_a_token_request_is_defaulted_and_capped_as_kube_does() -> None:
    assert _spec({}) == satoken.TokenRequestSpec(AUD, 3600)
    assert _spec({"audiences": ["vault"], "expirationSeconds": 600}).audiences == ("vault",)
    assert _spec({"expirationSeconds": 10 * 86400}).expiration_seconds == 86400    # the server's maximum
    assert _spec({"expirationSeconds": 10 * 86400}, maximum=0).expiration_seconds == 10 * 86400
    bound = _spec({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "u"}}).bound
    assert bound == satoken.Ref("Pod", "p", "u")


@pytest.mark.parametrize(("spec", "message"), [
    ({"expirationSeconds": 60}, 'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: '
                                "Invalid value: 60: may not specify a duration less than 10 minutes"),
    ({"expirationSeconds": (1 << 32) + 1}, "may not specify a duration larger than 2^32 seconds"),
    ({"expirationSeconds": "3600"}, 'spec.expirationSeconds: Invalid value: "3600": must be an integer'),
    ({"expirationSeconds": True}, "must be an integer"),
    ({"audiences": "api"}, "spec.audiences: Invalid value"),
    ({"audiences": [""]}, "spec.audiences: Invalid value"),
    ({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1"}}, "spec.boundObjectRef.name: Invalid value"),
    ({"boundObjectRef": "p"}, "spec.boundObjectRef: Invalid value"),
], ids=["short", "long", "string", "bool", "aud-string", "aud-empty", "bound-no-name", "bound-string"])
def test_bad_token_requests_are_refused_with_kubes_messages(spec: Obj, message: str) -> None:
    with pytest.raises(ValidationError) as e:
        _spec(spec)
    assert message in e.value.message and e.value.code == 422


def test_a_token_binds_only_to_v1_pods_and_secrets() -> None:
    with pytest.raises(BadRequestError, match="cannot bind token to object of type apps/v1, Kind=Deployment"):
        _spec({"boundObjectRef": {"kind": "Deployment", "apiVersion": "apps/v1", "name": "d"}})


# ---- pure: claims ---------------------------------------------------------------------------------

def _claims(now: int = T0, spec: satoken.TokenRequestSpec | None = None) -> Obj:
    return satoken.claims(satoken.Issue(ISSUER, "p1", satoken.Ref("ServiceAccount", "bot", "uid-1"),
                                        spec or satoken.TokenRequestSpec(AUD, 3600), now, "jti-1"))


def test_claims_are_kubes() -> None:
    assert _claims() == {"aud": list(AUD), "exp": T0 + 3600, "iat": T0, "iss": ISSUER, "jti": "jti-1",
                         "kubernetes.io": {"namespace": "p1", "serviceaccount": {"name": "bot", "uid": "uid-1"}},
                         "nbf": T0, "sub": "system:serviceaccount:p1:bot"}
    bound = _claims(spec=satoken.TokenRequestSpec(AUD, 3600, satoken.Ref("Pod", "web", "pod-uid")))
    assert bound["kubernetes.io"]["pod"] == {"name": "web", "uid": "pod-uid"}
    subject = satoken.check_claims(bound, T0, ISSUER, AUD)
    assert subject == satoken.Subject("p1", satoken.Ref("ServiceAccount", "bot", "uid-1"),
                                      satoken.Ref("Pod", "web", "pod-uid"))


@pytest.mark.parametrize(("now", "ok"), [(T0, True), (T0 + 3600 + 60, True), (T0 + 3600 + 61, False),
                                         (T0 - 60, True), (T0 - 61, False)],
                         ids=["now", "exp+leeway", "expired", "nbf-leeway", "not-yet"])
def test_the_time_window_holds_with_60s_leeway(now: int, ok: bool) -> None:
    if ok:
        assert satoken.check_claims(_claims(), now, ISSUER, AUD).account.name == "bot"
    else:
        with pytest.raises(UnauthorizedError):
            satoken.check_claims(_claims(), now, ISSUER, AUD)


@pytest.mark.parametrize("change", [{"iss": "https://other"}, {"aud": ["vault"]}, {"aud": []}, {"exp": "soon"},
                                    {"sub": "system:serviceaccount:p2:bot"}, {"kubernetes.io": None},
                                    {"kubernetes.io": {"namespace": "p1", "serviceaccount": {"name": "bot"}}}],
                         ids=["issuer", "audience", "no-audience", "exp-type", "sub", "no-private", "no-uid"])
def test_claims_that_do_not_hold_are_refused(change: Obj) -> None:
    with pytest.raises(UnauthorizedError):
        satoken.check_claims({**_claims(), **change}, T0, ISSUER, AUD)


def test_a_single_string_audience_is_accepted() -> None:
    assert satoken.check_claims({**_claims(), "aud": AUD[0]}, T0, ISSUER, AUD).namespace == "p1"


# ---- signing and authenticating over a real store ---------------------------------------------------

@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return SigningKey.load_or_create(tmp_path_factory.mktemp("pki"))


class Clock:
    def __init__(self) -> None:
        self.now = float(T0)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(tmp_path: Path, key: SigningKey) -> Iterator[tuple[Resources, ServiceAccountTokens, Clock]]:
    store = SQLiteStore(tmp_path / "db")
    try:
        res = Resources(store, Authorizer(store), AdmissionChain([]))
        res.create(ADMIN, by_kind("Namespace"), "", {"metadata": {"name": "p1"}})
        res.create(ADMIN, by_kind("ServiceAccount"), "p1", {"metadata": {"name": "bot"}})
        clock = Clock()
        yield res, ServiceAccountTokens(store, key, satoken.TokenOptions(ISSUER, AUD, 86400), clock), clock
    finally:
        store.close()


def _token(tokens: ServiceAccountTokens, spec: Obj | None = None, name: str = "bot") -> str:
    return str(tokens.issue("p1", name, {"spec": spec or {}})["status"]["token"])


def test_an_issued_token_authenticates_as_its_service_account(world: Any) -> None:
    _res, tokens, _clock = world
    answer = tokens.issue("p1", "bot", {"spec": {"expirationSeconds": 7200}})
    assert answer["status"]["expirationTimestamp"] == "2027-01-15T10:00:00Z"   # T0 + 7200 s
    assert (answer["kind"], answer["spec"]["audiences"]) == ("TokenRequest", list(AUD))
    user = tokens.authenticate(answer["status"]["token"])
    assert user == User("system:serviceaccount:p1:bot",
                        ("system:serviceaccounts", "system:serviceaccounts:p1", "system:authenticated"))


def test_a_token_expires_with_the_injected_clock(world: Any) -> None:
    _res, tokens, clock = world
    token = _token(tokens, {"expirationSeconds": 600})
    clock.now = T0 + 600 + 60
    assert tokens.authenticate(token).name == "system:serviceaccount:p1:bot"
    clock.now += 1
    with pytest.raises(UnauthorizedError, match="expired"):
        tokens.authenticate(token)


def test_deleting_the_service_account_revokes_even_if_it_comes_back(world: Any) -> None:
    res, tokens, _clock = world
    token = _token(tokens)
    res.delete(ADMIN, by_kind("ServiceAccount"), "p1", "bot")
    with pytest.raises(UnauthorizedError, match="service account p1/bot was deleted"):
        tokens.authenticate(token)
    res.create(ADMIN, by_kind("ServiceAccount"), "p1", {"metadata": {"name": "bot"}})   # a new uid
    with pytest.raises(UnauthorizedError, match="was deleted"):
        tokens.authenticate(token)


def test_a_token_bound_to_a_pod_dies_with_the_pod(world: Any) -> None:
    res, tokens, _clock = world
    res.create(ADMIN, by_kind("Pod"), "p1", {"metadata": {"name": "web"}, "spec": {
        "serviceAccountName": "bot", "containers": [{"name": "c", "image": "i"}]}})
    token = _token(tokens, {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web"}})
    assert tokens.authenticate(token).name == "system:serviceaccount:p1:bot"
    res.delete(ADMIN, by_kind("Pod"), "p1", "web")
    with pytest.raises(UnauthorizedError, match="pod p1/web it is bound to was deleted"):
        tokens.authenticate(token)


def test_binding_checks_the_pods_account_and_the_uid(world: Any) -> None:
    res, tokens, _clock = world
    res.create(ADMIN, by_kind("Pod"), "p1", {"metadata": {"name": "other"}, "spec": {
        "containers": [{"name": "c", "image": "i"}]}})
    with pytest.raises(BadRequestError, match='running with serviceaccount "default"'):
        _token(tokens, {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "other"}})
    res.create(ADMIN, by_kind("Secret"), "p1", {"metadata": {"name": "s"}})
    with pytest.raises(ConflictError, match="does not match the UID in record"):
        _token(tokens, {"boundObjectRef": {"kind": "Secret", "apiVersion": "v1", "name": "s", "uid": "stale"}})
    with pytest.raises(NotFoundError):
        _token(tokens, name="nobody")


def test_a_token_signed_by_another_key_or_altered_is_refused(world: Any, tmp_path: Path) -> None:
    _res, tokens, _clock = world
    other = SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    forged = other.sign(satoken.claims(satoken.Issue(ISSUER, "p1", satoken.Ref("ServiceAccount", "bot", "x"),
                                                     satoken.TokenRequestSpec(AUD, 3600), T0, "j")))
    with pytest.raises(UnauthorizedError, match="not signed by this server"):
        tokens.authenticate(forged)
    forged_kid = forged.replace(forged.split(".")[0], satoken.b64url(json.dumps(
        {"alg": "RS256", "kid": tokens.key.key_id}).encode()))
    with pytest.raises(UnauthorizedError, match="signature is not valid"):
        tokens.authenticate(forged_kid)
    head, _body, sig = _token(tokens).split(".")
    raised = dict(_claims(), sub="system:serviceaccount:p1:admin")
    with pytest.raises(UnauthorizedError, match="signature is not valid"):
        tokens.authenticate(f"{head}.{satoken.b64url(json.dumps(raised).encode())}.{sig}")
    none_alg = satoken.b64url(json.dumps({"alg": "none"}).encode())
    with pytest.raises(UnauthorizedError, match="not signed by this server"):
        tokens.authenticate(f"{none_alg}.{_token(tokens).split('.')[1]}.AAAA")
    with pytest.raises(UnauthorizedError, match="not a valid JWT"):
        tokens.authenticate(f"{none_alg}.{_token(tokens).split('.')[1]}.")


def test_the_key_is_made_once_and_kept(tmp_path: Path) -> None:
    first = SigningKey.load_or_create(tmp_path / "pki")
    assert SigningKey.load_or_create(tmp_path / "pki").key_id == first.key_id
    assert (tmp_path / "pki" / "sa.key").stat().st_mode & 0o777 == 0o600


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.lists(st.text(alphabet="AZaz09-_=/+{}\"", max_size=60), min_size=3,
                                                  max_size=3).map(".".join),
                 st.integers(0, 20000).map(lambda n: "a." * n + "b")))
def test_garbage_tokens_are_401_and_nothing_else(key: SigningKey, garbage: str) -> None:
    with pytest.raises(UnauthorizedError):
        satoken.check_claims(key.verify(garbage), T0, ISSUER, AUD)


def test_a_huge_token_is_refused_before_decoding(key: SigningKey) -> None:
    with pytest.raises(UnauthorizedError, match="longer than 8192 bytes"):
        key.verify("a" * 5000 + "." + "b" * 5000 + ".c")


# ---- pure: the ServiceAccounts controller -----------------------------------------------------------

@pytest.mark.parametrize(("namespace", "present", "missing"), [
    ({"metadata": {"name": "p1"}}, set(), ["default", "builder", "deployer"]),
    ({"metadata": {"name": "p1"}, "status": {"phase": "Active"}}, {"default", "builder"}, ["deployer"]),
    ({"metadata": {"name": "p1"}, "status": {"phase": "Terminating"}}, set(), []),
    ({"metadata": {"name": "p1", "deletionTimestamp": "2026-01-01T00:00:00Z"}}, set(), []),
    (None, set(), []),
], ids=["new", "one-deleted", "terminating", "deleting", "gone"])
def test_the_controller_makes_the_missing_accounts_of_active_namespaces(namespace: Obj | None, present: set[str],
                                                                         missing: list[str]) -> None:
    assert missing_accounts(namespace, present) == missing


# ---- pure: the server's flags -----------------------------------------------------------------------

def test_server_flags_become_token_options() -> None:
    assert token_options("https://i", (), "48h") == satoken.TokenOptions("https://i", ("https://i",), 48 * 3600)
    assert token_options("https://i", ("a", "b"), "1h").audiences == ("a", "b")
    for issuer, audiences, maximum, flag in (("", (), "24h", "--service-account-issuer"),
                                             ("i", ("",), "24h", "--api-audiences"),
                                             ("i", (), "59m", "--service-account-max-token-expiration"),
                                             ("i", (), "soon", "--service-account-max-token-expiration")):
        with pytest.raises(BadRequestError, match=flag):
            token_options(issuer, audiences, maximum)


def test_only_a_terminating_namespace_stops_the_controllers_create() -> None:
    assert terminating(ForbiddenError("unable to create new content in namespace p1 because it is being terminated"))
    assert not terminating(ForbiddenError('serviceaccounts "default" is forbidden: exceeded quota: q, requested: '
                                          "count/serviceaccounts=1"))


def test_a_token_review_judges_both_kinds_of_token_for_the_audiences_asked(world: Any, tmp_path: Path) -> None:
    _res, tokens, _clock = world
    users = TokenFile(tmp_path / "tokens")
    alice = users.create("alice")
    vault = _token(tokens, {"audiences": ["vault", "other"]})
    assert tokens.review(vault, ("vault",), users) == {
        "authenticated": True, "audiences": ["vault"],
        "user": {"username": "system:serviceaccount:p1:bot",
                 "groups": ["system:serviceaccounts", "system:serviceaccounts:p1", "system:authenticated"]}}
    refused = tokens.review(vault, (), users)                     # not meant for the API server
    assert not refused["authenticated"] and "not meant for this server" in refused["error"]
    assert tokens.review(alice, (), users)["user"]["username"] == "alice"
    assert not tokens.review(alice, ("vault",), users)["authenticated"]   # a user token is the server's only
    assert not tokens.review("garbage", (), users)["authenticated"]
    assert not tokens.review("a.b.c", (), users)["authenticated"]
