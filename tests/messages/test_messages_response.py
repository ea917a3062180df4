"""The response body and the per-token results inside `msg` (spec 10.1, 10.2)."""

from __future__ import annotations

import pytest

from hmpush.messages import SendResponse, TokenResults

PARTIAL_MSG = (
    '{"illegalTokens":{"tokenFormatError":["MAAALgE4G98BAAAAst*******jg"]},"success":1,"failure":1}'
)
ALL_INVALID_MSG = '{"failure":2,"illegalTokens":{"noRight":["MAAA…jg","MAAA…re"]}}'


@pytest.mark.parametrize("msg", [PARTIAL_MSG, ALL_INVALID_MSG])
def test_documented_msg_round_trips_exactly(msg: str) -> None:
    assert TokenResults.from_msg(msg).to_msg() == msg


def test_partial_result_fields() -> None:
    results = TokenResults.from_msg(PARTIAL_MSG)
    assert results.success == 1
    assert results.failure == 1
    assert results.reason_for() == {"MAAALgE4G98BAAAAst*******jg": "tokenFormatError"}
    assert TokenResults.from_msg(ALL_INVALID_MSG).success is None


@pytest.mark.parametrize(
    "msg",
    [
        "Success",
        "[]",
        '{"failure":"2"}',
        '{"failure":-1}',
        '{"success":true,"failure":0}',
        '{"failure":1,"illegalTokens":["a"]}',
        '{"failure":1,"illegalTokens":{"noRight":"a"}}',
    ],
)
def test_malformed_msg_is_a_value_error(msg: str) -> None:
    with pytest.raises(ValueError):
        TokenResults.from_msg(msg)


def test_send_response_json_is_camel_case() -> None:
    response = SendResponse(code="80000000", msg="Success", request_id="157006")
    assert response.to_json() == b'{"code":"80000000","msg":"Success","requestId":"157006"}'
    assert SendResponse.from_json(response.to_json()) == response
    assert response.is_success
    assert response.token_results is None


def test_send_response_carries_token_results() -> None:
    body = (
        '{"code":"80100000","msg":'
        + '"'
        + PARTIAL_MSG.replace('"', '\\"')
        + '"'
        + ',"requestId":"16901701"}'
    )
    response = SendResponse.from_json(body)
    assert response.token_results == TokenResults.from_msg(PARTIAL_MSG)
    assert not response.is_success


def test_numeric_code_is_read_as_text() -> None:
    response = SendResponse.from_json('{"code":80000000,"msg":"Success","requestId":"1"}')
    assert response.code == "80000000"
