"""Reading Push server answers and deciding what to retry (the client's I/O-free core)."""

from __future__ import annotations

import email.utils

import httpx2
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hmpush import codes
from hmpush.client import BatchResult, RetryPolicy, may_have_been_accepted, result_from_answer
from hmpush.client._protocol import interpret_response, request_headers, send_url
from hmpush.client._results import UNREPORTED
from hmpush.client._retry import parse_retry_after
from hmpush.errors import (
    AuthError,
    PayloadError,
    PermissionDeniedError,
    PushError,
    QuotaError,
    ServerError,
    TransportError,
)

TOKENS = ["MAMzLgEAAAAtoken-one", "MAMzLgEAAAAtoken-two", "MAMzLgEAAAAtoken-three"]


def _answer(code: str | int, msg: str, request_id: str = "1690000000001") -> bytes:
    return orjson.dumps({"code": code, "msg": msg, "requestId": request_id})


def test_success_accepts_every_token_in_order() -> None:
    result = interpret_response(200, _answer("80000000", "Success"), {}, TOKENS)
    assert result.accepted == TOKENS
    assert result.failures == {}
    assert (result.code, result.http_status, result.request_id) == (
        "80000000",
        200,
        "1690000000001",
    )


def test_partial_success_gives_each_refused_token_its_reason() -> None:
    msg = orjson.dumps(
        {"illegalTokens": {"tokenFormatError": [TOKENS[1]]}, "success": 2, "failure": 1}
    ).decode()
    result = interpret_response(200, _answer("80100000", msg), {}, TOKENS)
    assert result.accepted == [TOKENS[0], TOKENS[2]]
    assert result.failures == {TOKENS[1]: "tokenFormatError"}


def test_all_invalid_is_a_result_not_an_exception() -> None:
    msg = orjson.dumps({"failure": 3, "illegalTokens": {"noRight": TOKENS[:2]}}).decode()
    result = interpret_response(400, _answer("80300007", msg), {}, TOKENS)
    assert result.accepted == []
    # The third token is not named, but 80300007 says every token failed.
    assert result.failures == {TOKENS[0]: "noRight", TOKENS[1]: "noRight", TOKENS[2]: "80300007"}


def test_unreadable_partial_detail_claims_no_token_as_accepted() -> None:
    result = interpret_response(200, _answer("80100000", "not json"), {}, TOKENS)
    assert result.accepted == []
    assert set(result.failures.values()) == {UNREPORTED}


def test_numeric_code_is_read_as_its_digits() -> None:
    result = interpret_response(200, _answer(80000000, "Success"), {}, TOKENS)
    assert result.code == "80000000"


def test_empty_code_is_an_unreadable_answer() -> None:
    with pytest.raises(ServerError) as caught:
        interpret_response(502, _answer("", "x"), {}, TOKENS)
    assert caught.value.code == "502"


@pytest.mark.parametrize(
    ("code", "status", "family"),
    [
        (codes.ILLEGAL_PAYLOAD.code, 400, PayloadError),
        (codes.AUTHENTICATION_ERROR.code, 401, AuthError),
        (codes.JWT_EXPIRED.code, 401, AuthError),
        (codes.NO_PERMISSION.code, 403, PermissionDeniedError),
        (codes.TEST_MESSAGE_TOO_FREQUENT.code, 400, QuotaError),
        (codes.INNER_ERROR.code, 500, ServerError),
    ],
)
def test_whole_request_refusals_raise_their_family_with_code_message_and_ids(
    code: str, status: int, family: type[Exception]
) -> None:
    with pytest.raises(family) as caught:
        interpret_response(status, _answer(code, "some text", "42"), {}, TOKENS)
    error = caught.value
    assert (error.code, error.message, error.request_id, error.http_status) == (  # type: ignore[attr-defined]
        code,
        "some text",
        "42",
        status,
    )


def test_flow_control_503_carries_retry_after() -> None:
    body = _answer("503", codes.FLOW_CONTROL.message)
    with pytest.raises(QuotaError) as caught:
        interpret_response(503, body, {"retry-after": "7"}, TOKENS)
    assert caught.value.retry_after == 7.0
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("status", "family", "retryable"),
    [(503, QuotaError, True), (502, ServerError, True), (500, ServerError, True),
     (404, PayloadError, False), (401, AuthError, False)],
)  # fmt: skip
def test_unreadable_bodies_are_judged_by_http_status(
    status: int, family: type[Exception], retryable: bool
) -> None:
    with pytest.raises(family) as caught:
        interpret_response(status, b"<html>gateway</html>", {}, TOKENS)
    assert caught.value.code == str(status)  # type: ignore[attr-defined]
    assert "<html>gateway</html>" in str(caught.value)
    assert caught.value.retryable is retryable  # type: ignore[attr-defined]


def test_unreadable_200_is_an_error_that_is_not_retried() -> None:
    # The request may have been accepted: retrying could deliver twice.
    with pytest.raises(ServerError) as caught:
        interpret_response(200, b"", {}, TOKENS)
    assert not RetryPolicy().allows_retry(caught.value)
    assert may_have_been_accepted(caught.value)
    assert "<empty body>" in str(caught.value)


def test_retry_after_parses_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.25 ") == 0.25
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    date = email.utils.formatdate(1_000_000 + 30, usegmt=True)
    assert parse_retry_after(date, now=1_000_000) == 30.0


def test_transport_failures_retry_only_when_safe_or_allowed() -> None:
    def wrapped(cause: Exception) -> TransportError:
        error = TransportError("failed")
        error.__cause__ = cause
        return error

    never_sent = wrapped(httpx2.ConnectError("refused"))
    unanswered = wrapped(httpx2.RemoteProtocolError("server disconnected"))
    misconfigured = wrapped(httpx2.UnsupportedProtocol("ftp"))
    cautious = RetryPolicy()  # the default: never resend what may have been accepted
    eager = RetryPolicy(retry_unanswered=True)
    assert eager.allows_retry(never_sent) and cautious.allows_retry(never_sent)
    assert eager.allows_retry(unanswered) and not cautious.allows_retry(unanswered)
    assert not eager.allows_retry(misconfigured)
    # Only a request the server may have received can have been accepted.
    assert may_have_been_accepted(unanswered)
    assert not may_have_been_accepted(never_sent) and not may_have_been_accepted(misconfigured)


def test_refusals_were_never_accepted_and_only_5xx_and_flow_control_retry() -> None:
    for status, code in [(503, "503"), (500, "500"), (502, "502"), (500, "81000001")]:
        with pytest.raises(PushError) as caught:
            interpret_response(status, _answer(code, "x"), {}, TOKENS)
        assert RetryPolicy().allows_retry(caught.value), code
        assert not may_have_been_accepted(caught.value)
    permanent = ["80100001", "80100003", "80200001", "80300002", "80300008", "80300029", "80300037"]
    for code in permanent:
        status = codes.BUSINESS_CODES[code].http_status
        with pytest.raises(PushError) as caught:
            interpret_response(status, _answer(code, "x"), {}, TOKENS)
        assert not RetryPolicy().allows_retry(caught.value), code
        assert not may_have_been_accepted(caught.value)


def test_a_recorded_answer_reads_exactly_as_a_live_one() -> None:
    msg = orjson.dumps({"success": 2, "failure": 1, "illegalTokens": {"noRight": [TOKENS[1]]}})
    recorded = {"code": "80100000", "msg": msg.decode(), "requestId": "42"}
    live = interpret_response(200, orjson.dumps(recorded), {}, TOKENS)
    assert result_from_answer(recorded, TOKENS) == live
    assert live.failures == {TOKENS[1]: "noRight"}
    with pytest.raises(AuthError):
        result_from_answer({"code": "80200001", "msg": "x", "requestId": "1"}, TOKENS)
    assert BatchResult.all_accepted("7", "80000000", TOKENS).accepted == TOKENS


def test_retry_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="positive"):
        RetryPolicy(max_total_seconds=0)
    assert RetryPolicy.never().max_attempts == 1


def test_request_headers_and_url() -> None:
    assert request_headers("a.b.c", 7) == {
        "Authorization": "Bearer a.b.c",
        "push-type": "7",
        "Content-Type": "application/json",
    }
    assert "a.b.c" not in str(request_headers(None, 0))
    assert send_url("http://127.0.0.1:9/", "123") == "http://127.0.0.1:9/v3/123/messages:send"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    status=st.integers(min_value=100, max_value=599),
    content=st.binary(max_size=200)
    | st.builds(
        lambda document: orjson.dumps(document),
        st.fixed_dictionaries(
            {},
            optional={
                "code": json_values | st.sampled_from(sorted(codes.BUSINESS_CODES)),
                "msg": json_values,
                "requestId": json_values,
            },
        ),
    ),
)
def test_any_answer_is_a_result_or_a_push_error(status: int, content: bytes) -> None:
    try:
        result = interpret_response(status, content, {"retry-after": "x"}, TOKENS)
    except PushError as error:
        assert isinstance(error.code, str) and error.code
    else:
        assert set(result.accepted) | set(result.failures) >= set(TOKENS)
