"""Properties: rendering round-trips, and no input makes validation raise anything but its error."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from messages_examples import DOCUMENTED_EXAMPLES, TOKEN, flight_create, form_update

from hmpush.errors import ValidationError
from hmpush.messages import (
    PAYLOAD_MODELS,
    Category,
    PriorityScene,
    PushOptions,
    PushType,
    prepare,
    validate_request,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=4)
short_text = st.text(max_size=40)

click_actions = st.one_of(
    st.fixed_dictionaries({"actionType": st.just(0)}, optional={"data": json_objects}),
    st.fixed_dictionaries(
        {"actionType": st.just(1), "action": st.text(min_size=1, max_size=20)},
        optional={"uri": short_text, "data": json_objects},
    ),
)
notifications = st.fixed_dictionaries(
    {
        "category": st.sampled_from([c.value for c in Category if c is not Category.PLAY_VOICE]),
        "title": short_text,
        "body": short_text,
        "clickAction": click_actions,
    },
    optional={
        "image": st.from_regex(r"https://[a-z]{1,10}\.com/[a-z0-9]{0,10}\.png", fullmatch=True),
        "style": st.just(0),
        "notifyId": st.integers(-1, 2**31 - 1),
        "appMessageId": st.from_regex(r"[A-Za-z0-9+/=_ -]{1,64}", fullmatch=True),
        "profileId": st.text(max_size=64),
        "badge": st.fixed_dictionaries(
            {}, optional={"addNum": st.integers(1, 99), "setNum": st.integers(0, 99)}
        ),
        "foregroundShow": st.booleans(),
        "priorityScene": st.sampled_from([p.value for p in PriorityScene]),
        "sound": st.text(min_size=1, max_size=20),
    },
)
push_options = st.fixed_dictionaries(
    {},
    optional={
        "testMessage": st.booleans(),
        "ttl": st.integers(1, 1296000),
        "biTag": st.text(max_size=16),
        "receiptId": st.text(min_size=1, max_size=16),
        "collapseKey": st.integers(-1, 100),
    },
)
tokens = st.lists(st.from_regex(r"[A-Za-z0-9+/=]{8,40}", fullmatch=True), min_size=1, max_size=5)


def _flight_with(title: str, text: str) -> dict[str, Any]:
    body = flight_create()
    data = body["payload"]["activityData"]["notificationData"]
    data["contentTitle"] = title + "{{status}}"
    data["contentText"][0]["text"] = text
    return body


live_views = st.builds(_flight_with, st.text(max_size=200), st.text(max_size=200))
widgets = st.builds(
    lambda form_data, version: {
        **form_update(),
        "payload": {**form_update()["payload"], "formData": form_data, "version": version},
    },
    st.dictionaries(
        st.text(max_size=10).filter(
            lambda key: key not in ("icon",) and not key.startswith("datashareproxy://")
        ),
        st.one_of(st.text(max_size=10), st.integers(-(2**53) + 1, 2**53 - 1), st.booleans()),
        max_size=5,
    ),
    st.integers(0, 2**31 - 1),
)


def _round_trip(push_type: int, body: dict[str, Any], token_list: list[str]) -> None:
    checked = validate_request(push_type, json.dumps(body).encode())
    model = type(checked.payload)
    assert model.model_validate_json(checked.payload.to_json()) == checked.payload
    prepared = prepare(checked.payload, checked.push_options)
    sent = validate_request(push_type, prepared.body_for(token_list))
    assert sent.payload == checked.payload
    assert sent.push_options == checked.push_options
    assert sent.tokens == token_list


@SETTINGS
@given(notifications, push_options, tokens)
def test_notification_round_trips(
    notification: dict[str, Any], options: dict[str, Any], token_list: list[str]
) -> None:
    body = {
        "payload": {"notification": notification},
        "pushOptions": options,
        "target": {"token": token_list},
    }
    _round_trip(0, body, token_list)


@SETTINGS
@given(live_views)
def test_live_view_round_trips(body: dict[str, Any]) -> None:
    _round_trip(7, body, [TOKEN])


@SETTINGS
@given(widgets)
def test_widget_round_trips(body: dict[str, Any]) -> None:
    _round_trip(1, body, [TOKEN])


@SETTINGS
@given(push_options)
def test_push_options_round_trip(options: dict[str, Any]) -> None:
    model = PushOptions.model_validate(options)
    assert PushOptions.model_validate_json(model.to_json()) == model
    assert orjson.loads(model.to_json()) == options


def _only_validation_errors(push_type: Any, body: Any) -> None:
    try:
        validate_request(push_type, body)
    except ValidationError as error:
        assert error.code.isdigit() and len(error.code) == 8
        assert error.message
        assert "pydantic" not in error.message.lower()
        assert "input should" not in error.message.lower()


push_types = st.one_of(
    st.sampled_from([int(kind) for kind in PushType]),
    st.integers(-5, 20),
    st.text(max_size=4),
    st.none(),
)


@SETTINGS
@given(push_types, json_values)
def test_arbitrary_json_only_raises_validation_error(push_type: Any, value: Any) -> None:
    _only_validation_errors(push_type, json.dumps(value).encode())


@SETTINGS
@given(push_types, st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_validation_error(push_type: Any, raw: bytes) -> None:
    _only_validation_errors(push_type, raw)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@SETTINGS
@given(st.data())
def test_mutated_examples_only_raise_validation_error(data: st.DataObject) -> None:
    push_type, build = data.draw(st.sampled_from(DOCUMENTED_EXAMPLES))
    body = copy.deepcopy(build())
    path = data.draw(st.sampled_from(_paths(body)))
    node = body
    for step in path[:-1]:
        node = node[step]
    if data.draw(st.booleans()) and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = data.draw(json_values)
    _only_validation_errors(push_type, json.dumps(body).encode())
    _only_validation_errors(push_type, body)


@SETTINGS
@given(st.data())
def test_a_payload_built_alone_reports_what_the_request_reports(data: st.DataObject) -> None:
    # The same broken payload, checked inside a request body or built on its own in Python,
    # gets the same code and the same message (path from `payload`, camelCase).
    push_type, build = data.draw(st.sampled_from(DOCUMENTED_EXAMPLES))
    body = copy.deepcopy(build())
    path = data.draw(st.sampled_from(_paths(body["payload"])))
    node = body["payload"]
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = data.draw(json_values)
    body = json.loads(json.dumps(body))  # what a JSON body would carry
    try:
        validate_request(push_type, body)
    except ValidationError as in_request:
        if not (in_request.field or "").startswith("payload"):
            return
        try:
            PAYLOAD_MODELS[PushType(push_type)].model_validate(body["payload"])
        except ValidationError as alone:
            assert (alone.code, alone.message, alone.field) == (
                in_request.code,
                in_request.message,
                in_request.field,
            )
        else:
            raise AssertionError(f"built alone, the payload passed: {in_request.message}")


def test_every_push_type_has_a_documented_example() -> None:
    assert {PushType(kind) for kind, _ in DOCUMENTED_EXAMPLES} == set(PAYLOAD_MODELS)
