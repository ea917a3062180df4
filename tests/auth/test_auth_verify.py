"""JwtVerifier: PS256 only, the URL project's own keys, claims and times, and each known attack."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from auth_support import FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st

from hmpush.auth import (
    JWT_AUDIENCE,
    JwtSigner,
    JwtVerifier,
    ServiceAccount,
    VerificationKey,
)
from hmpush.errors import AuthError

AUTHENTICATION_ERROR = "80200001"
JWT_EXPIRED = "80200005"
LIFETIME_TOO_LONG = "80300036"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64_json(value: object) -> str:
    return _b64(json.dumps(value).encode())


def _claims(account: ServiceAccount, now: float, **changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": account.sub_account,
        "aud": JWT_AUDIENCE,
        "iat": int(now),
        "exp": int(now) + 3600,
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name)
        else:
            claims[name] = value
    return claims


def _signed(
    account: ServiceAccount,
    claims: dict[str, Any],
    *,
    algorithm: str = "PS256",
    kid: str | None = None,
    **header: Any,
) -> str:
    headers = {"kid": account.key_id if kid is None else kid, "typ": "JWT", **header}
    return jwt.encode(claims, account.private_key, algorithm=algorithm, headers=headers)


def _unsigned(header: dict[str, Any], claims: object) -> str:
    return f"{_b64_json(header)}.{_b64_json(claims)}."


def _hs256_with_public_key(account: ServiceAccount, claims: dict[str, Any]) -> str:
    # The classic key-confusion attack: HMAC "signed" with the server's public key as the secret.
    signing_input = (
        f"{_b64_json({'alg': 'HS256', 'typ': 'JWT', 'kid': account.key_id})}.{_b64_json(claims)}"
    )
    secret = account.public_key_pem().encode()
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _jwk(account: ServiceAccount) -> dict[str, Any]:
    """The account's public key as a JWK, as an attacker would embed it in a JWT header."""
    return dict(json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(account.private_key.public_key())))


def _tampered_signature(token: str) -> str:
    head, _, signature = token.rpartition(".")
    flipped = "A" if signature[10] != "A" else "B"
    return f"{head}.{signature[:10]}{flipped}{signature[11:]}"


def _tampered_claims(token: str, account: ServiceAccount, now: float) -> str:
    header, _, signature = token.split(".")
    forged = _b64_json(_claims(account, now, exp=int(now) + 7200))
    return f"{header}.{forged}.{signature}"


Case = Callable[[ServiceAccount, ServiceAccount, ServiceAccount, float], str | None]


def _bearer(token: str) -> str:
    return f"Bearer {token}"


# Each row: (name, authorization header built from (account, other, stranger, now), code).
# `account` belongs to the URL's project; `other` to another project; `stranger` is unknown.
ATTACKS: list[tuple[str, Case, str]] = [
    ("no header", lambda a, o, s, n: None, AUTHENTICATION_ERROR),
    ("empty header", lambda a, o, s, n: "", AUTHENTICATION_ERROR),
    ("basic scheme", lambda a, o, s, n: "Basic dXNlcjpwYXNz", AUTHENTICATION_ERROR),
    (
        "token without scheme",
        lambda a, o, s, n: _signed(a, _claims(a, n)),
        AUTHENTICATION_ERROR,
    ),
    (
        "lower-case bearer",
        lambda a, o, s, n: "bearer " + _signed(a, _claims(a, n)),
        AUTHENTICATION_ERROR,
    ),
    (
        "two spaces after Bearer",
        lambda a, o, s, n: "Bearer  " + _signed(a, _claims(a, n)),
        AUTHENTICATION_ERROR,
    ),
    ("Bearer and nothing", lambda a, o, s, n: "Bearer ", AUTHENTICATION_ERROR),
    (
        "alg none",
        lambda a, o, s, n: _bearer(
            _unsigned({"alg": "none", "typ": "JWT", "kid": a.key_id}, _claims(a, n))
        ),
        AUTHENTICATION_ERROR,
    ),
    (
        "HS256 with the public key as secret",
        lambda a, o, s, n: _bearer(_hs256_with_public_key(a, _claims(a, n))),
        AUTHENTICATION_ERROR,
    ),
    (
        "RS256 with the right key",
        lambda a, o, s, n: _bearer(_signed(a, _claims(a, n), algorithm="RS256")),
        AUTHENTICATION_ERROR,
    ),
    (
        "PS512 with the right key",
        lambda a, o, s, n: _bearer(_signed(a, _claims(a, n), algorithm="PS512")),
        AUTHENTICATION_ERROR,
    ),
    (
        "unknown kid",
        lambda a, o, s, n: _bearer(_signed(s, _claims(s, n))),
        AUTHENTICATION_ERROR,
    ),
    (
        "no kid",
        lambda a, o, s, n: _bearer(jwt.encode(_claims(a, n), a.private_key, algorithm="PS256")),
        AUTHENTICATION_ERROR,
    ),
    (
        "known kid, signed by an unknown key",
        lambda a, o, s, n: _bearer(_signed(s, _claims(a, n), kid=a.key_id)),
        AUTHENTICATION_ERROR,
    ),
    (
        "attacker's key embedded in the header (jwk), known kid",
        lambda a, o, s, n: _bearer(_signed(s, _claims(a, n), kid=a.key_id, jwk=_jwk(s))),
        AUTHENTICATION_ERROR,
    ),
    (
        "another project's key",
        lambda a, o, s, n: _bearer(_signed(o, _claims(o, n))),
        AUTHENTICATION_ERROR,
    ),
    (
        "tampered signature",
        lambda a, o, s, n: _bearer(_tampered_signature(_signed(a, _claims(a, n)))),
        AUTHENTICATION_ERROR,
    ),
    (
        "tampered claims",
        lambda a, o, s, n: _bearer(_tampered_claims(_signed(a, _claims(a, n)), a, n)),
        AUTHENTICATION_ERROR,
    ),
    (
        "signature stripped",
        lambda a, o, s, n: _bearer(_signed(a, _claims(a, n)).rpartition(".")[0] + "."),
        AUTHENTICATION_ERROR,
    ),
    ("garbage", lambda a, o, s, n: "Bearer not-a-jwt", AUTHENTICATION_ERROR),
    ("three garbage parts", lambda a, o, s, n: "Bearer abc.def.ghi", AUTHENTICATION_ERROR),
    ("huge token", lambda a, o, s, n: "Bearer " + "a" * 20000, AUTHENTICATION_ERROR),
    (
        "header not JSON",
        lambda a, o, s, n: "Bearer " + _b64(b"{nope") + ".e30.c2ln",
        AUTHENTICATION_ERROR,
    ),
    (
        "typ not JWT",
        lambda a, o, s, n: _bearer(_signed(a, _claims(a, n), typ="JWE")),
        AUTHENTICATION_ERROR,
    ),
    (
        "iss of another account",
        lambda a, o, s, n: _bearer(_signed(a, _claims(a, n, iss=o.sub_account))),
        AUTHENTICATION_ERROR,
    ),
    (
        "wrong aud",
        lambda a, o, s, n: _bearer(_signed(a, _claims(a, n, aud="https://example.com/token"))),
        AUTHENTICATION_ERROR,
    ),
    (
        "no iat",
        lambda a, o, s, n: _bearer(_signed(a, _claims(a, n, iat=None))),
        AUTHENTICATION_ERROR,
    ),
    (
        "no exp",
        lambda a, o, s, n: _bearer(_signed(a, _claims(a, n, exp=None))),
        AUTHENTICATION_ERROR,
    ),
    (
        "iat as text",
        lambda a, o, s, n: _bearer(_signed(a, _claims(a, n, iat=str(int(n))))),
        AUTHENTICATION_ERROR,
    ),
    (
        "iat in the future",
        lambda a, o, s, n: _bearer(_signed(a, _claims(a, n, iat=int(n) + 600, exp=int(n) + 4200))),
        AUTHENTICATION_ERROR,
    ),
    (
        "exp before iat",
        lambda a, o, s, n: _bearer(_signed(a, _claims(a, n, exp=int(n) - 10))),
        AUTHENTICATION_ERROR,
    ),
    (
        "nbf in the future",
        lambda a, o, s, n: _bearer(_signed(a, _claims(a, n, nbf=int(n) + 600))),
        AUTHENTICATION_ERROR,
    ),
    (
        "expired",
        lambda a, o, s, n: _bearer(_signed(a, _claims(a, n, iat=int(n) - 7200, exp=int(n) - 3600))),
        JWT_EXPIRED,
    ),
    (
        "lifetime over one day",
        lambda a, o, s, n: _bearer(_signed(a, _claims(a, n, exp=int(n) + 86401))),
        LIFETIME_TOO_LONG,
    ),
    (
        "expired and lifetime over one day",
        lambda a, o, s, n: _bearer(
            _signed(a, _claims(a, n, iat=int(n) - 200000, exp=int(n) - 100000))
        ),
        LIFETIME_TOO_LONG,
    ),
]


# Why each attack must be refused, as the refusal message says it.
REASONS: dict[str, str] = {
    "no header": "missing Authorization header",
    "empty header": "missing Authorization header",
    "basic scheme": "must be 'Bearer <JWT>'",
    "token without scheme": "must be 'Bearer <JWT>'",
    "lower-case bearer": "must be 'Bearer <JWT>'",
    "two spaces after Bearer": "not a well-formed JWT",
    "Bearer and nothing": "not a well-formed JWT",
    "alg none": "alg 'none' is not allowed",
    "HS256 with the public key as secret": "alg 'HS256' is not allowed",
    "RS256 with the right key": "alg 'RS256' is not allowed",
    "PS512 with the right key": "alg 'PS512' is not allowed",
    "unknown kid": "is not a known key",
    "no kid": "has no kid",
    "known kid, signed by an unknown key": "signature is invalid",
    "attacker's key embedded in the header (jwk), known kid": "signature is invalid",
    "another project's key": "does not belong to project",
    "tampered signature": "signature is invalid",
    "tampered claims": "signature is invalid",
    "signature stripped": "signature is invalid",
    "garbage": "not a well-formed JWT",
    "three garbage parts": "not a well-formed JWT",
    "huge token": "not a well-formed JWT",
    "header not JSON": "not a well-formed JWT",
    "typ not JWT": 'typ must be "JWT"',
    "iss of another account": "iss must be the key's sub_account",
    "wrong aud": "aud must be",
    "no iat": "iat must be a number",
    "no exp": "exp must be a number",
    "iat as text": "iat must be a number",
    "iat in the future": "iat is in the future",
    "exp before iat": "exp must be later than iat",
    "nbf in the future": "nbf is in the future",
    "expired": "Jwt token expired.",
    "lifetime over one day": "exp - iat is 86401 s",
    "expired and lifetime over one day": "exp - iat is 100000 s",
}


@pytest.fixture
def verifier(registered_keys: dict[str, VerificationKey], clock: FakeClock) -> JwtVerifier:
    """A verifier that knows `account` and `other_account`, on the hand-moved clock."""
    return JwtVerifier(registered_keys.get, clock=clock)


@pytest.mark.parametrize(("name", "case", "code"), ATTACKS, ids=[name for name, _, _ in ATTACKS])
def test_attack_is_refused_with_its_code(
    verifier: JwtVerifier,
    account: ServiceAccount,
    other_account: ServiceAccount,
    stranger_account: ServiceAccount,
    clock: FakeClock,
    name: str,
    case: Case,
    code: str,
) -> None:
    authorization = case(account, other_account, stranger_account, clock())
    with pytest.raises(AuthError) as refused:
        verifier.verify(authorization, account.project_id)
    assert refused.value.code == code
    assert REASONS[name] in refused.value.message
    assert refused.value.http_status == 401
    assert verifier.cache_info().size == 0


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"aud": [JWT_AUDIENCE]},
        {"exp": 1_800_000_000 + 86400},  # exactly one day is allowed
        {"iat": 1_800_000_000 + 30, "exp": 1_800_000_000 + 3630},  # sender clock 30 s ahead
        {"iat": 1_800_000_000 - 3630, "exp": 1_800_000_000 - 30},  # expired 30 s ago: leeway
        {"jti": "abc", "sub": "anything"},
    ],
    ids=["plain", "aud as list", "one day", "iat within leeway", "exp within leeway", "extra"],
)
def test_valid_tokens_are_accepted(
    verifier: JwtVerifier, account: ServiceAccount, clock: FakeClock, changes: dict[str, Any]
) -> None:
    claims = _claims(account, clock(), **changes)
    assert verifier.verify(_bearer(_signed(account, claims)), account.project_id) == claims


def test_refusal_messages_say_what_is_wrong(
    verifier: JwtVerifier, account: ServiceAccount, clock: FakeClock
) -> None:
    too_long = _signed(account, _claims(account, clock(), exp=int(clock()) + 90000))
    with pytest.raises(AuthError, match=r"JWT expire period over threshold.*90000 s.*86400"):
        verifier.verify(_bearer(too_long), account.project_id)
    rs256 = _signed(account, _claims(account, clock()), algorithm="RS256")
    with pytest.raises(AuthError, match="alg 'RS256' is not allowed; only PS256"):
        verifier.verify(_bearer(rs256), account.project_id)
    with pytest.raises(AuthError, match=r"^80200001 Authentication Error. missing Authorization"):
        verifier.verify(None, account.project_id)


def test_signer_tokens_verify_and_are_served_from_the_cache(
    verifier: JwtVerifier, account: ServiceAccount, clock: FakeClock
) -> None:
    token = JwtSigner(account, clock=clock).token()
    first = verifier.verify(_bearer(token), account.project_id)
    first["iss"] = "changed by the caller"
    second = verifier.verify(_bearer(token), account.project_id)
    assert second["iss"] == account.sub_account  # the cache hands out copies
    info = verifier.cache_info()
    assert (info.hits, info.misses, info.size) == (1, 1, 1)


def test_cached_token_is_refused_once_it_expires(
    verifier: JwtVerifier, account: ServiceAccount, clock: FakeClock
) -> None:
    token = JwtSigner(account, clock=clock).token()
    verifier.verify(_bearer(token), account.project_id)
    clock.now += 3600 + 59
    verifier.verify(_bearer(token), account.project_id)
    clock.now += 1
    with pytest.raises(AuthError) as refused:
        verifier.verify(_bearer(token), account.project_id)
    assert refused.value.code == JWT_EXPIRED
    assert verifier.cache_info().size == 0


def test_cached_token_is_refused_for_another_project(
    verifier: JwtVerifier, account: ServiceAccount, other_account: ServiceAccount, clock: FakeClock
) -> None:
    token = JwtSigner(account, clock=clock).token()
    verifier.verify(_bearer(token), account.project_id)
    with pytest.raises(AuthError) as refused:
        verifier.verify(_bearer(token), other_account.project_id)
    assert refused.value.code == AUTHENTICATION_ERROR


def test_cached_token_is_refused_once_its_key_is_removed_or_replaced(
    account: ServiceAccount, stranger_account: ServiceAccount, clock: FakeClock
) -> None:
    keys = {account.key_id: VerificationKey.from_account(account)}
    verifier = JwtVerifier(keys.get, clock=clock)
    token = JwtSigner(account, clock=clock).token()
    verifier.verify(_bearer(token), account.project_id)
    del keys[account.key_id]
    with pytest.raises(AuthError, match="not a known key"):
        verifier.verify(_bearer(token), account.project_id)
    keys[account.key_id] = VerificationKey(
        account.project_id, account.key_id, account.sub_account, stranger_account.public_key_pem()
    )
    with pytest.raises(AuthError, match="signature is invalid"):
        verifier.verify(_bearer(token), account.project_id)


def test_cache_is_bounded_and_can_be_disabled(
    account: ServiceAccount, registered_keys: dict[str, VerificationKey], clock: FakeClock
) -> None:
    signer = JwtSigner(account, clock=clock)
    tokens = [signer.refresh() for _ in range(3)]
    bounded = JwtVerifier(registered_keys.get, clock=clock, cache_size=2)
    disabled = JwtVerifier(registered_keys.get, clock=clock, cache_size=0)
    for token in tokens:
        bounded.verify(_bearer(token), account.project_id)
        disabled.verify(_bearer(token), account.project_id)
    assert bounded.cache_info().size == 2
    assert disabled.cache_info().size == 0
    bounded.verify(_bearer(tokens[0]), account.project_id)  # evicted, verified again
    assert bounded.cache_info().hits == 0


def test_unusable_registered_key_is_a_refusal_not_a_crash(
    account: ServiceAccount, clock: FakeClock
) -> None:
    broken = VerificationKey(account.project_id, account.key_id, account.sub_account, "nope")
    verifier = JwtVerifier({account.key_id: broken}.get, clock=clock)
    with pytest.raises(AuthError, match="not a usable RSA key"):
        verifier.verify(_bearer(JwtSigner(account, clock=clock).token()), account.project_id)


@settings(max_examples=200, deadline=None)
@given(header=st.one_of(st.none(), st.text(), st.text().map(lambda text: "Bearer " + text)))
def test_any_header_gets_auth_error_or_claims_never_a_crash(
    header: str | None, account: ServiceAccount, registered_keys: dict[str, VerificationKey]
) -> None:
    verifier = JwtVerifier(registered_keys.get)
    with pytest.raises(AuthError):
        verifier.verify(header, account.project_id)


def test_typ_is_compared_case_insensitively_and_may_be_absent(
    verifier: JwtVerifier, account: ServiceAccount, clock: FakeClock
) -> None:
    claims = _claims(account, clock())
    assert verifier.verify(_bearer(_signed(account, claims, typ="jwt")), account.project_id)
    untyped = jwt.encode(
        claims, account.private_key, algorithm="PS256", headers={"kid": account.key_id, "typ": None}
    )
    assert "typ" not in jwt.get_unverified_header(untyped)
    assert verifier.verify(_bearer(untyped), account.project_id) == claims


def test_header_of_the_wrong_type_is_a_refusal(
    verifier: JwtVerifier, account: ServiceAccount
) -> None:
    with pytest.raises(AuthError) as refused:
        verifier.verify(b"Bearer abc", account.project_id)  # type: ignore[arg-type]
    assert refused.value.code == AUTHENTICATION_ERROR
