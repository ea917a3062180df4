"""Keys for the auth tests: generated once per session, 2048-bit unless a test needs 4096."""

from __future__ import annotations

import pytest
from auth_support import FakeClock

from hmpush.auth import ServiceAccount, VerificationKey, generate_service_account

PROJECT_ID = "101234567890"
OTHER_PROJECT_ID = "109876543210"


@pytest.fixture(scope="session")
def account() -> ServiceAccount:
    """The service account most tests sign with."""
    return generate_service_account(PROJECT_ID, bits=2048)


@pytest.fixture(scope="session")
def other_account() -> ServiceAccount:
    """A key registered with another project."""
    return generate_service_account(OTHER_PROJECT_ID, bits=2048)


@pytest.fixture(scope="session")
def stranger_account() -> ServiceAccount:
    """A key of `PROJECT_ID`'s shape that the server has never heard of."""
    return generate_service_account(PROJECT_ID, bits=2048)


@pytest.fixture(scope="session")
def registered_keys(
    account: ServiceAccount, other_account: ServiceAccount
) -> dict[str, VerificationKey]:
    """What the server knows: `account` (PROJECT_ID) and `other_account` (OTHER_PROJECT_ID)."""
    return {key.key_id: VerificationKey.from_account(key) for key in (account, other_account)}


@pytest.fixture
def clock() -> FakeClock:
    """A fresh hand-moved clock."""
    return FakeClock()
