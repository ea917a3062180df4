"""Every documented request example is accepted, and renders back to the same JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from messages_examples import DOCUMENTED_EXAMPLES

from hmpush.messages import PushType, prepare, validate_request


@pytest.mark.parametrize(
    ("push_type", "build"), DOCUMENTED_EXAMPLES, ids=[b.__name__ for _, b in DOCUMENTED_EXAMPLES]
)
def test_documented_example_is_accepted(
    push_type: int, build: Callable[[], dict[str, Any]]
) -> None:
    body = build()
    checked = validate_request(push_type, orjson.dumps(body))
    assert checked.push_type == PushType(push_type)
    assert checked.tokens == body["target"]["token"]
    assert checked.token_failure_for_all is None


@pytest.mark.parametrize(
    ("push_type", "build"), DOCUMENTED_EXAMPLES, ids=[b.__name__ for _, b in DOCUMENTED_EXAMPLES]
)
def test_prepared_body_equals_the_example(
    push_type: int, build: Callable[[], dict[str, Any]]
) -> None:
    body = build()
    checked = validate_request(push_type, body)
    prepared = prepare(checked.payload, checked.push_options)
    rendered = orjson.loads(prepared.body_for(body["target"]["token"]))
    assert rendered == body
    assert prepared.body_size == checked.body_size
