"""JwtSigner: Huawei's header and claims, one signature per validity window, one per refresh."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from auth_support import FakeClock
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from hmpush.auth import JWT_AUDIENCE, JwtSigner, ServiceAccount, write_service_account

SENDERS = 100


def _segments(token: str) -> tuple[dict[str, object], dict[str, object]]:
    header, claims, _ = token.split(".")
    return _b64_json(header), _b64_json(claims)


def _b64_json(segment: str) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def _run_threads(count: int, work: Callable[[], str]) -> list[str]:
    barrier = threading.Barrier(count)
    results: list[str] = []
    lock = threading.Lock()

    def sender() -> None:
        barrier.wait()
        token = work()
        with lock:
            results.append(token)

    threads = [threading.Thread(target=sender) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == count
    return results


def test_header_and_claims_are_huaweis(account: ServiceAccount, clock: FakeClock) -> None:
    token = JwtSigner(account, clock=clock).token()
    header, claims = _segments(token)
    assert header == {"kid": account.key_id, "typ": "JWT", "alg": "PS256"}
    issued_at = int(clock())
    assert claims == {
        "iss": account.sub_account,
        "aud": "https://oauth-login.cloud.huawei.com/oauth2/v3/token",
        "iat": issued_at,
        "exp": issued_at + 3600,
    }


def test_signature_is_rsassa_pss_sha256_with_32_byte_salt(account: ServiceAccount) -> None:
    token = JwtSigner(account).token()
    signing_input, _, signature = token.rpartition(".")
    account.private_key.public_key().verify(
        base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
        signing_input.encode(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )  # raises InvalidSignature otherwise
    claims = jwt.decode(
        token,
        account.private_key.public_key(),
        algorithms=["PS256"],
        audience=JWT_AUDIENCE,
        issuer=account.sub_account,
    )
    assert claims["iss"] == account.sub_account


def test_token_is_reused_until_refresh_margin_before_expiry(
    account: ServiceAccount, clock: FakeClock
) -> None:
    signer = JwtSigner(account, lifetime=3600, refresh_margin=300, clock=clock)
    first = signer.token()
    clock.now += 3299
    assert signer.token() == first
    assert signer.signature_count == 1
    clock.now += 1
    second = signer.token()
    assert second != first
    assert signer.signature_count == 2
    assert _segments(second)[1]["iat"] == int(clock())


def test_custom_lifetime_sets_exp(account: ServiceAccount, clock: FakeClock) -> None:
    claims = _segments(JwtSigner(account, lifetime=600, refresh_margin=30, clock=clock).token())[1]
    assert claims["exp"] == int(clock()) + 600


@pytest.mark.parametrize(
    ("lifetime", "refresh_margin", "rule"),
    [
        (0, 0, "lifetime must be between 1 and 86400"),
        (86401, 300, "80300036"),
        (3600, 3600, "refresh_margin must be at least 0 and less than lifetime"),
        (3600, -1, "refresh_margin"),
        (3600.5, 300, "whole number"),
    ],
)
def test_bad_window_is_refused(
    account: ServiceAccount, lifetime: int, refresh_margin: int, rule: str
) -> None:
    with pytest.raises(ValueError, match=rule):
        JwtSigner(account, lifetime=lifetime, refresh_margin=refresh_margin)


def test_signer_loads_an_account_from_a_path_or_mapping(
    account: ServiceAccount, tmp_path: Path
) -> None:
    path = write_service_account(account, tmp_path / "key.json")
    assert JwtSigner(path).account == account
    assert JwtSigner(account.to_dict()).account == account


def test_refresh_replaces_only_the_stale_token(account: ServiceAccount) -> None:
    signer = JwtSigner(account)
    first = signer.token()
    second = signer.refresh(first)
    assert second != first and signer.token() == second
    # A caller still holding `first` learns of `second` without another signature.
    assert signer.refresh(first) == second
    assert signer.signature_count == 2
    # No stale token given: always a new signature.
    assert signer.refresh() not in (first, second)
    assert signer.signature_count == 3


def test_refresh_of_an_old_token_signs_when_the_cached_one_is_due(
    account: ServiceAccount, clock: FakeClock
) -> None:
    signer = JwtSigner(account, clock=clock)
    first = signer.token()
    second = signer.refresh(first)
    clock.now += 3300
    third = signer.refresh(first)
    assert third not in (first, second)


def test_100_threads_cause_one_signature_per_window(
    account: ServiceAccount, clock: FakeClock
) -> None:
    signer = JwtSigner(account, clock=clock)
    for window in range(1, 4):
        tokens = _run_threads(SENDERS, signer.token)
        assert len(set(tokens)) == 1
        assert signer.signature_count == window
        clock.now += 3300


def test_100_threads_refreshing_the_same_stale_token_cause_one_signature(
    account: ServiceAccount,
) -> None:
    signer = JwtSigner(account)
    stale = signer.token()
    tokens = _run_threads(SENDERS, lambda: signer.refresh(stale))
    assert len(set(tokens)) == 1 and stale not in tokens
    assert signer.signature_count == 2


@pytest.mark.anyio
async def test_100_tasks_cause_one_signature_per_window(
    account: ServiceAccount, clock: FakeClock
) -> None:
    signer = JwtSigner(account, clock=clock)
    for window in range(1, 4):
        tokens = await asyncio.gather(*(signer.atoken() for _ in range(SENDERS)))
        assert len(set(tokens)) == 1
        assert signer.signature_count == window
        clock.now += 3300


@pytest.mark.anyio
async def test_100_tasks_calling_the_sync_method_cause_one_signature(
    account: ServiceAccount,
) -> None:
    signer = JwtSigner(account)

    async def sender() -> str:
        await asyncio.sleep(0)
        return signer.token()

    tokens = await asyncio.gather(*(sender() for _ in range(SENDERS)))
    assert len(set(tokens)) == 1
    assert signer.signature_count == 1


@pytest.mark.anyio
async def test_100_tasks_refreshing_the_same_stale_token_cause_one_signature(
    account: ServiceAccount,
) -> None:
    signer = JwtSigner(account)
    stale = await signer.atoken()
    tokens = await asyncio.gather(*(signer.arefresh(stale) for _ in range(SENDERS)))
    assert len(set(tokens)) == 1 and stale not in tokens
    assert signer.signature_count == 2
