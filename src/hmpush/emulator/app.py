"""The local Push server as an ASGI app: Huawei's send endpoint plus the `/admin` API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from hmpush import codes
from hmpush.emulator import delivery, inbox_page
from hmpush.emulator.admin import router as admin_router
from hmpush.emulator.config import EmulatorConfig
from hmpush.emulator.core import Emulator
from hmpush.emulator.faults import ConnectionDropped, FiredFault, drop_client_connection
from hmpush.emulator.limits import retry_after_header
from hmpush.emulator.registry import RegistryError
from hmpush.emulator.sending import (
    Reply,
    TokenFailureRule,
    handle_send,
    new_request_id,
    reply_for,
)
from hmpush.messages import MAX_REQUEST_BYTES  # larger requests: 80300008, never held whole
from hmpush.messages.request import MAX_TOKENS

__all__ = ["SEND_PATH", "create_app"]

logger = logging.getLogger("hmpush.emulator")

SEND_PATH = "/v3/{project_id}/messages:send"
_SEND_PATH_PATTERN = re.compile(r"/v3/([^/]+)/messages:send")

_SEND_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": "push-type",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "enum": ["0", "1", "2", "6", "7", "10"]},
            "description": "Which payload schema the body carries (spec 1.2).",
        },
        {
            "name": "Authorization",
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "`Bearer <service-account JWT>` (PS256).",
        },
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["payload", "target"],
                    "properties": {
                        "payload": {"type": "object"},
                        "pushOptions": {"type": "object"},
                        "target": {
                            "type": "object",
                            "properties": {"token": {"type": "array", "items": {"type": "string"}}},
                        },
                    },
                }
            }
        },
    },
    "responses": {
        "200": {"description": "`{code, msg, requestId}`: 80000000 or 80100000."},
        "400": {"description": "`{code, msg, requestId}` with a parameter or payload code."},
        "401": {"description": "`{code, msg, requestId}`: 80200001, 80200005 or 80300036."},
        "403": {"description": "`{code, msg, requestId}`: 80300002 or 80300037."},
        "503": {"description": "Flow control; see `Retry-After`."},
    },
}


def create_app(
    config: EmulatorConfig | None = None, *, emulator: Emulator | None = None
) -> FastAPI:
    """The server for `config` (or around an existing `emulator`); state is on `app.state`."""
    emulator = emulator or Emulator(config or EmulatorConfig())
    app = FastAPI(
        title="hmpush local Push server",
        description="HarmonyOS Push Kit v3 `messages:send`, with an admin API under `/admin`.",
        version="1",
        lifespan=_lifespan,
    )
    app.state.emulator = emulator
    app.add_api_route(
        SEND_PATH,
        send_message,
        methods=["POST"],
        summary="Send a scenario-based message (Huawei v3)",
        tags=["push"],
        openapi_extra=_SEND_OPENAPI,
        response_class=Response,
    )
    app.add_api_route(
        "/metrics",
        _metrics,
        methods=["GET"],
        summary="Prometheus metrics",
        tags=["admin"],
        response_class=Response,
    )
    app.include_router(admin_router, prefix="/admin")
    app.include_router(delivery.router, prefix="/admin")
    app.include_router(inbox_page.router)
    app.add_exception_handler(RegistryError, _registry_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(SendFastPath, emulator=emulator)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    task = asyncio.create_task(delivery.run_background(app.state.emulator))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def send_message(project_id: str, request: Request) -> Response:
    """`POST /v3/{projectId}/messages:send` (served by `SendFastPath`; kept for the docs)."""
    emulator: Emulator = request.app.state.emulator
    headers = request.headers
    reply = await answer_send(
        emulator,
        project_id,
        headers.get("authorization"),
        headers.get("push-type"),
        await request.body(),
        request.scope.get("client"),
    )
    if reply is None:
        return Response(b"", 500)  # never reaches the client: its socket is shut
    return Response(reply.body, reply.status, headers=reply.headers, media_type="application/json")


async def answer_send(
    emulator: Emulator,
    project_id: str,
    authorization: str | None,
    push_type_header: str | None,
    body: bytes,
    client: Any,
) -> Reply | None:
    """The answer to one send request, fault rules included; None when the connection was
    dropped (raises `ConnectionDropped` where the socket cannot be reached)."""
    reply = await _answer_send(emulator, project_id, authorization, push_type_header, body, client)
    emulator.metrics.answered(reply.code if reply is not None else "dropped")
    return reply


async def _answer_send(
    emulator: Emulator,
    project_id: str,
    authorization: str | None,
    push_type_header: str | None,
    body: bytes,
    client: Any,
) -> Reply | None:
    if emulator.faults.active:
        fault = _matching_fault(emulator, project_id, push_type_header, body)
        if fault is not None:
            if fault.latency_seconds:
                await asyncio.sleep(fault.latency_seconds)
            if fault.drop_connection:
                if not drop_client_connection(client):
                    raise ConnectionDropped(f"fault rule {fault.rule_id} dropped the connection")
                return None
            if fault.status is not None:
                return _fault_reply(fault)
            if fault.code is not None:
                return _fault_code_reply(fault.rule_id, codes.BUSINESS_CODES[fault.code])
            if fault.token_failure is not None:
                forced = TokenFailureRule(fault.token_prefix or "", fault.token_failure)
                return handle_send(
                    emulator, project_id, authorization, push_type_header, body, forced
                )
    return handle_send(emulator, project_id, authorization, push_type_header, body)


class SendFastPath:
    """ASGI middleware answering `messages:send` directly, skipping FastAPI's per-request
    parameter machinery on the one hot route (the route stays registered for the docs)."""

    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = None
        if scope["type"] == "http" and scope["method"] == "POST":
            match = _SEND_PATH_PATTERN.fullmatch(scope["path"])
        if match is None:
            await self.app(scope, receive, send)
            return
        authorization = push_type = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"push-type":
                push_type = value.decode("latin-1")
        body = await _read_body(receive)
        reply: Reply | None
        if body is None:
            too_long = reply_for(
                codes.MESSAGE_TOO_LONG,
                new_request_id(),
                codes.MESSAGE_TOO_LONG.format(f"request over {MAX_REQUEST_BYTES} bytes"),
            )
            self.emulator.metrics.answered(too_long.code)
            reply = too_long
        else:
            reply = await answer_send(
                self.emulator, match[1], authorization, push_type, body, scope.get("client")
            )
        if reply is None:
            return  # the socket is already shut; there is nobody to answer
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(reply.body)).encode()),
        ]
        headers += [
            (name.lower().encode(), value.encode()) for name, value in reply.headers.items()
        ]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None once it passes `MAX_REQUEST_BYTES` (the rest is not kept)."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_REQUEST_BYTES:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks) if size <= MAX_REQUEST_BYTES else None


def _fault_reply(fault: FiredFault) -> Reply:
    assert fault.status is not None
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = retry_after_header(fault.retry_after)
    return reply_for(codes.HTTP_ONLY_CODES[fault.status], new_request_id(), headers=headers)


def _fault_code_reply(rule_id: int, entry: codes.BusinessCode) -> Reply:
    # The only numbered placeholders in the table are 80300010's token bounds.
    msg = entry.format(f"(fault rule {rule_id})", 1, MAX_TOKENS)
    return reply_for(entry, new_request_id(), msg)


def _matching_fault(
    emulator: Emulator, project_id: str, push_type_header: str | None, body: bytes
) -> FiredFault | None:
    push_type: int | None
    try:
        push_type = int(push_type_header) if push_type_header is not None else None
    except ValueError:
        push_type = None
    tokens = _tokens_for_fault_rules(body) if emulator.faults.needs_tokens else []
    return emulator.faults.match(project_id, push_type, tokens)


def _tokens_for_fault_rules(body: bytes) -> list[str]:
    try:
        tokens = orjson.loads(body)["target"]["token"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return []
    return [token for token in tokens if isinstance(token, str)] if isinstance(tokens, list) else []


def _metrics(request: Request) -> Response:
    """Prometheus text format: send answers by code and tokens by outcome."""
    emulator: Emulator = request.app.state.emulator
    return Response(emulator.metrics.render(), media_type="text/plain; version=0.0.4")


async def _registry_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RegistryError)
    return JSONResponse({"detail": error.message}, error.status)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if request.url.path.startswith("/admin"):
        return JSONResponse({"detail": error.detail}, error.status_code, headers=error.headers)
    # Outside the admin API the server answers as Huawei's does: {code, msg, requestId}.
    entry = codes.HTTP_ONLY_CODES.get(error.status_code)
    if entry is None:  # no Huawei-shaped answer for this status: keep Starlette's own
        return JSONResponse({"detail": error.detail}, error.status_code, headers=error.headers)
    reply = reply_for(entry, new_request_id())
    return Response(reply.body, error.status_code, media_type="application/json")
