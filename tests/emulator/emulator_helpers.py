"""Helpers for the emulator tests: signed requests and sample bodies."""

from __future__ import annotations

import copy
import importlib.util
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx2
import orjson

from hmpush.auth import JwtSigner, ServiceAccount
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


def load_documented_examples() -> list[tuple[int, Callable[[], dict[str, Any]]]]:
    """The messages suite's request bodies modelled on Huawei's documented examples."""
    path = Path(__file__).resolve().parents[1] / "messages" / "messages_examples.py"
    spec = importlib.util.spec_from_file_location("emulator_messages_examples", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    examples: list[tuple[int, Callable[[], dict[str, Any]]]] = module.DOCUMENTED_EXAMPLES
    return examples


def signed_jwt(
    account: ServiceAccount,
    *,
    issued_at: float | None = None,
    lifetime: int = 3600,
    algorithm: str = "PS256",
    **claim_changes: Any,
) -> str:
    """A JWT with chosen times or claims, for the auth refusals (JwtSigner only signs good ones)."""
    import jwt

    now = time.time() if issued_at is None else issued_at
    claims = {
        "iss": account.sub_account,
        "aud": account.token_uri,
        "iat": int(now),
        "exp": int(now) + lifetime,
        **claim_changes,
    }
    headers = {"kid": account.key_id, "typ": "JWT"}
    token: str = jwt.encode(claims, account.private_key, algorithm=algorithm, headers=headers)
    return token


def answer_of(response: httpx2.Response) -> dict[str, Any]:
    """The `{code, msg, requestId}` body, checked for its shape."""
    answer: dict[str, Any] = orjson.loads(response.content)
    assert set(answer) == {"code", "msg", "requestId"}, answer
    assert isinstance(answer["code"], str) and isinstance(answer["msg"], str)
    assert answer["requestId"].isdigit()
    return answer
