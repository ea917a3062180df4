"""A token signed by JwtSigner is accepted by JwtVerifier for its own project only."""

from __future__ import annotations

import jwt
import pytest

from hmpush.auth import JWT_AUDIENCE, JwtSigner, JwtVerifier, ServiceAccount, VerificationKey
from hmpush.errors import AuthError


def test_signed_token_verifies_for_its_project(
    account: ServiceAccount, registered_keys: dict[str, VerificationKey]
) -> None:
    token = JwtSigner(account).token()
    claims = JwtVerifier(registered_keys.get).verify(f"Bearer {token}", account.project_id)
    assert claims["iss"] == account.sub_account
    assert claims["aud"] == JWT_AUDIENCE
    assert claims["exp"] - claims["iat"] == 3600


def test_signed_token_is_refused_for_another_project(
    account: ServiceAccount,
    other_account: ServiceAccount,
    registered_keys: dict[str, VerificationKey],
) -> None:
    token = JwtSigner(account).token()
    with pytest.raises(AuthError) as refused:
        JwtVerifier(registered_keys.get).verify(f"Bearer {token}", other_account.project_id)
    assert refused.value.code == "80200001"


def test_header_is_huaweis(account: ServiceAccount) -> None:
    header = jwt.get_unverified_header(JwtSigner(account).token())
    assert header == {"kid": account.key_id, "typ": "JWT", "alg": "PS256"}
