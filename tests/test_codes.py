"""The code table is the one source of truth; these check it is coherent."""

from __future__ import annotations

import pytest

from hmpush import codes
from hmpush.errors import (
    AuthError,
    PayloadError,
    PermissionDeniedError,
    QuotaError,
    ServerError,
    error_for_code,
)


def test_every_code_is_eight_digits_and_unique() -> None:
    for code, entry in codes.BUSINESS_CODES.items():
        assert code == entry.code
        assert len(code) == 8 and code.isdigit()


def test_illegal_payload_message_names_the_detail() -> None:
    detail = "payload.notification.badge.addNum value ranges from 1 to 99"
    assert codes.ILLEGAL_PAYLOAD.format(detail) == f"Illegal payload, {detail}"


def test_token_count_message_fills_huawei_placeholders() -> None:
    text = codes.TOKEN_COUNT_OUT_OF_RANGE.format(None, 1, 1000)
    assert text == "token count should within 1 and 1000."


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("80100003", 400, PayloadError),
        ("80200001", 401, AuthError),
        ("80200005", 401, AuthError),
        ("80300036", 401, AuthError),
        ("80300002", 403, PermissionDeniedError),
        ("80300029", 400, QuotaError),
        ("81000001", 500, ServerError),
        ("503", 503, QuotaError),
        ("502", 502, ServerError),
        ("99999999", 500, ServerError),
    ],
)
def test_codes_map_to_exception_families(code: str, status: int, expected: type) -> None:
    error = error_for_code(code, "text", http_status=status, request_id="r1")
    assert type(error) is expected
    assert error.code == code and error.request_id == "r1"


def test_receipt_results_to_delete() -> None:
    deletable = {r for r in codes.ReceiptResult if r.means_delete_token}
    assert {int(r) for r in deletable} == {2, 5, 6, 10}
