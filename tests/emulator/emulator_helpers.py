"""Helpers for the emulator tests: signed requests and sample bodies."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import httpx2
import orjson

from hmpush.auth import JwtSigner
from hmpush.testing import EmulatorHandle

NOTIFICATION: dict[str, Any] = {
    "notification": {
        "category": "IM",
        "title": "New message",
        "body": "Hello from hmpush",
        "clickAction": {"actionType": 0},
    }
}


def notification_body(tokens: Sequence[str], **push_options: Any) -> dict[str, Any]:
    """A push-type 0 body for `tokens`."""
    body: dict[str, Any] = {
        "payload": copy.deepcopy(NOTIFICATION),
        "target": {"token": list(tokens)},
    }
    if push_options:
        body["pushOptions"] = push_options
    return body


class Sender:
    """Posts to `messages:send` of a handle's project with a valid JWT (sync or async)."""

    def __init__(self, handle: EmulatorHandle) -> None:
        self.handle = handle
        self.signer = JwtSigner(handle.service_account)

    def headers(self, push_type: str | None = "0", **extra: str) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.signer.token()}",
            "Content-Type": "application/json",
        }
        if push_type is not None:
            headers["push-type"] = push_type
        headers.update(extra)
        return headers

    async def post(
        self,
        body: Any,
        *,
        push_type: str | None = "0",
        headers: dict[str, str] | None = None,
        project_id: str | None = None,
    ) -> httpx2.Response:
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        url = self.handle.send_url
        if project_id is not None:
            url = f"{self.handle.base_url}/v3/{project_id}/messages:send"
        async with httpx2.AsyncClient(transport=self.handle.transport, timeout=30) as client:
            return await client.post(
                url,
                content=content,
                headers=headers if headers is not None else self.headers(push_type),
            )
