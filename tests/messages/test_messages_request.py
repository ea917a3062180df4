"""Whole-request behaviour: push-type header, body forms, size rule, prepare/body_for, tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from messages_examples import TOKEN, changed, flight_create, form_update, notification

from hmpush.codes import TokenFailure
from hmpush.errors import ValidationError
from hmpush.messages import (
    MAX_BODY_BYTES,
    AlertPayload,
    BackgroundPayload,
    Badge,
    CapsuleData,
    Category,
    ClickAction,
    ClickActionType,
    FormUpdatePayload,
    Notification,
    PushOptions,
    PushType,
    Target,
    body_size,
    implausible_tokens,
    is_plausible_token,
    max_tokens_per_request,
    prepare,
    validate_request,
)


def _alert(**notification_fields: Any) -> AlertPayload:
    fields: dict[str, Any] = {
        "category": Category.IM,
        "title": "Hi",
        "body": "There",
        "click_action": ClickAction(action_type=ClickActionType.OPEN_APP),
    }
    fields.update(notification_fields)
    return AlertPayload(notification=Notification(**fields))


def _sized_notification(size: int) -> dict[str, Any]:
    """A notification body whose size without tokens is exactly `size` bytes."""
    body = notification()
    body["payload"]["notification"]["body"] = ""
    base = validate_request(0, body).body_size
    body["payload"]["notification"]["body"] = "x" * (size - base)
    return body


class TestPushTypeHeader:
    @pytest.mark.parametrize("value", [0, "0", " 0 ", PushType.NOTIFICATION])
    def test_accepts_int_text_and_enum(self, value: int | str) -> None:
        assert validate_request(value, notification()).push_type is PushType.NOTIFICATION

    @pytest.mark.parametrize("value", [None, "", "3", 3, "seven", "-0x1", True, "٣"])
    def test_refuses_missing_or_unknown(self, value: Any) -> None:
        with pytest.raises(ValidationError) as caught:
            validate_request(value, notification())
        assert caught.value.code == "80100001"
        assert caught.value.field == "push-type"

    def test_payload_is_checked_against_the_header(self) -> None:
        with pytest.raises(ValidationError) as caught:
            validate_request(6, notification())
        assert caught.value.message == "Illegal payload, payload.extraData is required"


class TestBodyForms:
    def test_bytes_text_and_mapping_agree(self) -> None:
        body = notification()
        raw = orjson.dumps(body)
        results = [validate_request(0, form) for form in (raw, raw.decode(), body, bytearray(raw))]
        assert len({result.payload.to_json() for result in results}) == 1

    @pytest.mark.parametrize(
        ("raw", "text"),
        [
            (b"", "body is not valid JSON"),
            (b"{", "body is not valid JSON"),
            (b"\xff\xfe", "body is not valid JSON"),
            (b"[]", "body must be a JSON object"),
            (b'"text"', "body must be a JSON object"),
            (b"null", "body must be a JSON object"),
        ],
    )
    def test_malformed_bodies_get_80100001(self, raw: bytes, text: str) -> None:
        with pytest.raises(ValidationError) as caught:
            validate_request(0, raw)
        assert caught.value.code == "80100001"
        assert text in caught.value.message

    def test_text_with_lone_surrogates(self) -> None:
        with pytest.raises(ValidationError) as caught:
            validate_request(0, '{"payload": "\ud800"}')
        assert caught.value.message.endswith("body is not valid UTF-8 text")
        with pytest.raises(ValidationError) as caught:
            validate_request(0, {"payload": {"notification": {"title": "\ud800"}}})
        assert "body is not JSON data" in caught.value.message

    def test_mapping_that_is_not_json_data(self) -> None:
        with pytest.raises(ValidationError) as caught:
            validate_request(0, {"payload": object()})
        assert caught.value.code == "80100001"
        assert "body is not JSON data" in caught.value.message

    def test_deep_nesting_is_a_validation_error(self) -> None:
        raw = orjson.dumps(notification()).replace(
            b'{"actionType":0}', b'{"actionType":0,"data":{"a":' + b"[" * 5000 + b"]" * 5000 + b"}}"
        )
        with pytest.raises(ValidationError) as caught:
            validate_request(0, raw)
        assert caught.value.code in ("80100001", "80100003")


class TestSizeRule:
    def test_exactly_4096_bytes_is_accepted(self) -> None:
        assert validate_request(0, _sized_notification(MAX_BODY_BYTES)).body_size == 4096

    def test_4097_bytes_is_refused_with_80300008(self) -> None:
        with pytest.raises(ValidationError) as caught:
            validate_request(0, _sized_notification(MAX_BODY_BYTES + 1))
        assert caught.value.code == "80300008"
        assert caught.value.message.startswith("Push message size is too long.")
        assert "4097 bytes" in caught.value.message

    def test_tokens_do_not_count(self) -> None:
        body = _sized_notification(MAX_BODY_BYTES)
        body["target"]["token"] = [TOKEN] * 1000
        assert validate_request(0, body).body_size == MAX_BODY_BYTES

    def test_counted_in_utf8_bytes_of_the_canonical_rendering(self) -> None:
        body = notification()
        body["payload"]["notification"]["body"] = "汉"
        pretty = orjson.dumps(body, option=orjson.OPT_INDENT_2)
        checked = validate_request(0, pretty)
        canonical = orjson.dumps({"payload": body["payload"], "target": {"token": []}})
        assert checked.body_size == len(canonical)
        assert checked.body_size == body_size(checked.payload)

    def test_prepare_refuses_an_oversized_message(self) -> None:
        with pytest.raises(ValidationError) as caught:
            prepare(_alert(body="x" * 4096))
        assert caught.value.code == "80300008"


class TestTokenLimits:
    @pytest.mark.parametrize(
        ("push_type", "test", "limit"),
        [
            (PushType.NOTIFICATION, False, 1000),
            (PushType.NOTIFICATION, True, 10),
            (PushType.LIVE_VIEW, True, 10),
            (PushType.FORM_UPDATE, False, 1),
            (PushType.FORM_UPDATE, True, 1),
        ],
    )
    def test_max_tokens(self, push_type: PushType, test: bool, limit: int) -> None:
        assert max_tokens_per_request(push_type, test_message=test) == limit

    def test_widget_test_message_with_two_tokens_is_a_count_error(self) -> None:
        body = changed(form_update(), "pushOptions.testMessage", True)
        body["target"]["token"] = [TOKEN, TOKEN]
        with pytest.raises(ValidationError) as caught:
            validate_request(1, body)
        assert caught.value.code == "80300010"

    def test_test_message_over_1000_tokens_is_a_count_error(self) -> None:
        body = changed(notification(), "pushOptions.testMessage", True)
        body["target"]["token"] = [TOKEN] * 1001
        with pytest.raises(ValidationError) as caught:
            validate_request(0, body)
        assert caught.value.code == "80300010"


class TestPrepare:
    def test_body_for_renders_the_exact_body(self) -> None:
        prepared = prepare(_alert(badge=Badge(add_num=2)), PushOptions(ttl=60, bi_tag="b"))
        body = prepared.body_for(("t1", "t2"))
        assert body == (
            b'{"payload":{"notification":{"category":"IM","title":"Hi","body":"There",'
            b'"clickAction":{"actionType":0},"badge":{"addNum":2}}},'
            b'"pushOptions":{"ttl":60,"biTag":"b"},"target":{"token":["t1","t2"]}}'
        )
        assert validate_request(prepared.push_type, body).payload == prepared.payload
        assert prepared.max_tokens_per_request == 1000
        assert prepared.body_size == len(body) - len(b'"t1","t2"')

    def test_body_for_checks_token_counts(self) -> None:
        prepared = prepare(_alert(), PushOptions(test_message=True))
        assert prepared.max_tokens_per_request == 10
        prepared.body_for([TOKEN] * 10)
        with pytest.raises(ValidationError) as caught:
            prepared.body_for([TOKEN] * 11)
        assert caught.value.code == "80300030"
        with pytest.raises(ValidationError) as caught:
            prepared.body_for([])
        assert caught.value.code == "80300010"

    def test_widget_takes_exactly_one_token(self) -> None:
        payload = validate_request(1, form_update()).payload
        assert isinstance(payload, FormUpdatePayload)
        prepared = prepare(payload)
        assert prepared.max_tokens_per_request == 1
        with pytest.raises(ValidationError) as caught:
            prepared.body_for([TOKEN, TOKEN])
        assert caught.value.message == (
            "token count should within 1 and 1. target.token holds 2 tokens"
        )

    def test_play_voice_outside_push_type_2_is_refused_locally(self) -> None:
        with pytest.raises(ValidationError) as caught:
            prepare(_alert(category=Category.PLAY_VOICE))
        assert caught.value.code == "80300007"
        assert TokenFailure.NOT_SUPPORT_PLAY_VOICE.value in caught.value.message

    def test_revalidates_a_model_changed_after_it_was_built(self) -> None:
        payload = _alert()
        payload.notification.badge = Badge.model_construct(add_num=500)
        with pytest.raises(ValidationError) as caught:
            prepare(payload)
        assert caught.value.message == (
            "Illegal payload, payload.notification.badge.addNum value ranges from 1 to 99"
        )

    @pytest.mark.parametrize("title", [5, None, object()])
    def test_revalidates_a_field_set_to_a_wrong_type(self, title: Any) -> None:
        payload = _alert()
        payload.notification.title = title
        with pytest.raises(ValidationError) as caught:
            prepare(payload)
        assert caught.value.code == "80100003"
        assert caught.value.field in ("payload.notification.title", "payload")

    def test_refuses_what_is_not_a_payload_model(self) -> None:
        with pytest.raises(TypeError):
            prepare({"extraData": "x"})  # type: ignore[arg-type]


class TestBuildingModels:
    def test_snake_case_attributes_render_camel_case(self) -> None:
        payload = BackgroundPayload(extra_data="x", proxy_data="ENABLE")
        assert payload.to_json() == b'{"extraData":"x","proxyData":"ENABLE"}'
        assert BackgroundPayload.model_validate_json(payload.to_json()) == payload

    def test_bad_value_raises_our_error_not_pydantics(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Badge(add_num=0)
        assert caught.value.code == "80100003"
        assert "value ranges from 1 to 99" in caught.value.message

    def test_bad_push_options_are_parameter_errors(self) -> None:
        with pytest.raises(ValidationError) as caught:
            PushOptions(ttl=10**9)
        assert caught.value.code == "80100001"

    @pytest.mark.parametrize(
        ("build", "code", "message"),
        [
            (
                lambda: AlertPayload(
                    notification={
                        "category": "IM",
                        "title": "t",
                        "body": "b",
                        "click_action": {"action_type": 0},
                        "badge": {"add_num": 0},
                    }
                ),
                "80100003",
                "Illegal payload, payload.notification.badge.addNum value ranges from 1 to 99",
            ),
            (
                lambda: CapsuleData(type=1, status=1, icon="i", bg_color="#FF000000"),
                "80100003",
                "Illegal payload, CapsuleData.bgColor must not be #FF000000",
            ),
            (
                lambda: Badge.model_validate({"addNum": 100}),
                "80100003",
                "Illegal payload, Badge.addNum value ranges from 1 to 99",
            ),
            (
                lambda: PushOptions(bi_tag="b" * 65),
                "80100001",
                "Check Parameter Error. pushOptions.biTag must be at most 64 bytes",
            ),
            (
                lambda: Target(token=["MAAA", 7]),
                "80100001",
                "Check Parameter Error. target.token[1] must be a string",
            ),
            (
                # A user's formData key stays as written, even when it looks like a field name.
                lambda: FormUpdatePayload(
                    form_id=1,
                    version=1,
                    module_name="m",
                    form_name="f",
                    ability_name="a",
                    form_data={"bg_color": None},
                ),
                "80100003",
                "Illegal payload, payload.formData.bg_color values must not be null",
            ),
        ],
        ids=["payload", "part", "part-from-json", "push-options", "target", "user-key"],
    )
    def test_errors_name_the_wire_path_however_the_model_was_built(
        self, build: Callable[[], object], code: str, message: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            build()
        assert caught.value.code == code
        assert caught.value.message.startswith(message)
        rule = message.removeprefix("Illegal payload, ").removeprefix("Check Parameter Error. ")
        assert caught.value.field == rule.split(" ")[0]

    def test_unknown_keyword_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            BackgroundPayload(extra_data="x", data="y")  # type: ignore[call-arg]
        assert "data is not a known field" in caught.value.message


class TestPlausibleTokens:
    @pytest.mark.parametrize(
        "token",
        [TOKEN, "MAMzLgMAAAAAAAABvW1x+/Q=", "a" * 512, "IQAAAACy0kYk:APA91b-x_y.z"],
    )
    def test_plausible(self, token: str) -> None:
        assert is_plausible_token(token)

    @pytest.mark.parametrize(
        "token", ["", "short", "a" * 513, "has space in it", 'quote"d-token', "tok,en,csv,row"]
    )
    def test_implausible(self, token: str) -> None:
        assert not is_plausible_token(token)


def test_validated_request_summarises_the_message() -> None:
    checked = validate_request(7, flight_create())
    assert checked.live_view_event == "FLIGHT"
    assert checked.category is None
    assert checked.push_options.ttl == 1000
    plain = validate_request(0, notification())
    assert plain.category == "IM"
    assert plain.push_options == PushOptions()


class TestFreeFormData:
    @pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
    def test_non_finite_numbers_are_refused(self, literal: bytes) -> None:
        raw = orjson.dumps(notification()).replace(
            b'{"actionType":0}', b'{"actionType":0,"data":{"n":' + literal + b"}}"
        )
        with pytest.raises(ValidationError) as caught:
            validate_request(0, raw)
        assert caught.value.field == "payload.notification.clickAction.data"
        assert "must hold only JSON values" in caught.value.message

    def test_non_finite_form_data_is_refused(self) -> None:
        raw = orjson.dumps(form_update()).replace(b'"temperature":21', b'"temperature":NaN')
        with pytest.raises(ValidationError) as caught:
            validate_request(1, raw)
        assert caught.value.field == "payload.formData"

    def test_non_finite_geofence_degrees_are_refused(self) -> None:
        body = flight_create()
        body["payload"]["operation"] = 4
        body["payload"]["trigger"] = {
            "condition": {
                "longitude": 0,
                "latitude": 0,
                "coordinateSystemType": 1,
                "monitorEvent": 1,
                "radius": 500,
            }
        }
        raw = orjson.dumps(body).replace(b'"longitude":0', b'"longitude":Infinity')
        with pytest.raises(ValidationError) as caught:
            validate_request(7, raw)
        assert caught.value.field == "payload.trigger.condition.longitude"

    def test_python_objects_are_refused_when_building(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ClickAction(action_type=ClickActionType.OPEN_APP, data={"when": object()})
        assert "must hold only JSON values" in caught.value.message

    def test_nulls_and_big_integers_inside_data_are_kept(self) -> None:
        raw = orjson.dumps(notification()).replace(
            b'{"actionType":0}', b'{"actionType":0,"data":{"a":null,"n":18446744073709551616}}'
        )
        payload = validate_request(0, raw).payload
        assert b'"data":{"a":null,"n":18446744073709551616}' in payload.to_json()


class TestImplausibleTokensInBulk:
    def test_all_plausible(self) -> None:
        assert implausible_tokens([TOKEN] * 1000) == []

    @pytest.mark.parametrize(
        "bad", ["", "short", "a" * 513, "has space in it", "tökenwithumlaut", "tok,en,csv,row"]
    )
    def test_finds_each_bad_token_in_order(self, bad: str) -> None:
        assert implausible_tokens([TOKEN, bad, TOKEN, bad]) == [bad, bad]

    def test_empty_batch(self) -> None:
        assert implausible_tokens([]) == []

    @given(st.lists(st.text(max_size=20) | st.sampled_from([TOKEN, "x" * 8]), max_size=20))
    def test_agrees_with_the_single_token_rule(self, tokens: list[str]) -> None:
        assert implausible_tokens(tokens) == [t for t in tokens if not is_plausible_token(t)]
