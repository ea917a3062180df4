"""The V2 callback body models: exact JSON both ways and the structural rules."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from hmpush.codes import ReceiptResult
from hmpush.receipts import DeliveryStatus, FormStatus, ReceiptBatch, ReceiptStatus


def _status(**overrides: Any) -> dict[str, Any]:
    status: dict[str, Any] = {
        "token": "MAMzLg0000000000token",
        "pushType": 0,
        "appPackageName": "com.example.app",
        "biTag": "spring-sale",
        "requestId": "157440000000000001",
        "deliveryStatus": {"result": 0, "timestamp": 1764400000000},
    }
    status.update(overrides)
    return {key: value for key, value in status.items() if value is not ...}


def test_parses_camel_case_json_into_snake_case_attributes() -> None:
    widget = _status(
        pushType=1, deliveryStatus=..., formStatus={"formId": 42, "result": 261, "timestamp": 5}
    )
    batch = ReceiptBatch.from_json(orjson.dumps({"statuses": [_status(), widget]}))
    first, second = batch.statuses
    assert first.app_package_name == "com.example.app"
    assert first.bi_tag == "spring-sale"
    assert first.result == 0 and first.result_code is ReceiptResult.DELIVERED
    assert first.form_id is None
    assert second.form_id == 42 and second.result_code is ReceiptResult.FORM_NOT_EXIST
    assert second.timestamp == 5


def test_renders_exact_camel_case_json_and_round_trips() -> None:
    batch = ReceiptBatch(
        statuses=[
            ReceiptStatus(
                token="tok",
                push_type=0,
                app_package_name="com.example.app",
                request_id="req-1",
                delivery_status=DeliveryStatus(result=2, timestamp=7),
            )
        ]
    )
    assert orjson.loads(batch.to_json()) == {
        "statuses": [
            {
                "token": "tok",
                "pushType": 0,
                "appPackageName": "com.example.app",
                "biTag": "",
                "requestId": "req-1",
                "deliveryStatus": {"result": 2, "timestamp": 7},
            }
        ]
    }
    assert ReceiptBatch.from_json(batch.to_json()) == batch


def test_absent_or_null_bi_tag_is_empty_and_unknown_fields_are_ignored() -> None:
    batch = ReceiptBatch.model_validate(
        {"statuses": [_status(biTag=None), _status(biTag=..., futureField=1)]}
    )
    assert [status.bi_tag for status in batch.statuses] == ["", ""]


def test_unknown_result_codes_are_kept() -> None:
    status = ReceiptStatus.model_validate(_status(deliveryStatus={"result": 999, "timestamp": 1}))
    assert status.result == 999 and status.result_code is None


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"token": ...}, "token"),
        ({"token": ""}, "token"),
        ({"requestId": ...}, "requestId"),
        ({"appPackageName": ...}, "appPackageName"),
        ({"pushType": "0"}, "pushType"),
        ({"deliveryStatus": {"result": "0", "timestamp": 1}}, "result"),
        ({"deliveryStatus": {"result": True, "timestamp": 1}}, "result"),
        ({"deliveryStatus": {"result": 0}}, "timestamp"),
        ({"deliveryStatus": ...}, "exactly one"),
        ({"formStatus": {"formId": 1, "result": 0, "timestamp": 1}}, "exactly one"),
        ({"pushType": 1}, "formStatus"),
        (
            {"deliveryStatus": ..., "formStatus": {"formId": 1, "result": 0, "timestamp": 1}},
            "formStatus is only",
        ),
        (
            {
                "pushType": 1,
                "deliveryStatus": ...,
                "formStatus": {"formId": 2**31, "result": 0, "timestamp": 1},
            },
            "formId",
        ),
    ],
)
def test_structural_rules_name_the_field(overrides: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ReceiptBatch.from_json(orjson.dumps({"statuses": [_status(**overrides)]}))
    assert fragment in str(caught.value)


@pytest.mark.parametrize("count", [0, 101])
def test_batch_holds_one_to_one_hundred_statuses(count: int) -> None:
    with pytest.raises(ValidationError, match="statuses"):
        ReceiptBatch.from_json(orjson.dumps({"statuses": [_status()] * count}))


def test_one_hundred_statuses_are_accepted() -> None:
    assert (
        len(ReceiptBatch.from_json(orjson.dumps({"statuses": [_status()] * 100})).statuses) == 100
    )


def test_form_status_model() -> None:
    assert FormStatus(form_id=3, result=0, timestamp=1).result_code is ReceiptResult.DELIVERED
