"""Learning what became of requests whose answer was lost (a crash, a dropped connection).

Push Kit has no idempotency key and no way to ask "did you accept this request?". What a
campaign can do is label each request: when the message has no `biTag` of its own, every batch is
sent with `biTag` = ``hmpush:<campaign>:<batch>``, which the server keeps with the request and
echoes in delivery receipts. A resolver looks those labels up in a record the server keeps:

- `EmulatorRequestLog` reads the local Push server's request log (`GET /admin/requests`), so it
  settles every batch exactly;
- with Huawei's service there is no such log; receipts carry the label but only for delivered
  messages and only later, so a missing receipt proves nothing. There the campaign's policy
  decides: report such batches as `unknown` (default) or send them again (at-least-once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx2
import orjson

from hmpush.client import BatchResult, result_from_answer
from hmpush.errors import PushError, TransportError
from hmpush.fanout._state import now_ms

TAG_PREFIX = "hmpush:"
# How long the local server may take from receiving a request to recording it. Its own work
# takes milliseconds; a latency fault rule delays it by its `latency_ms` (raise this to match).
DEFAULT_HANDLING_SECONDS = 5.0
REQUEST_LOG_LIMIT = 10_000
CLOCK_SLACK_MS = 60_000


@dataclass(frozen=True, slots=True)
class InFlightBatch:
    """A batch that was sent (or about to be) when its answer was lost."""

    batch_id: int
    tag: str | None
    tokens: list[str]
    sent_at_ms: int | None


class NotReceived:
    """The server has no record of the request: sending it again cannot deliver twice."""

    def __repr__(self) -> str:
        return "NOT_RECEIVED"


NOT_RECEIVED = NotReceived()

Resolution = BatchResult | NotReceived


class InFlightResolver(Protocol):
    """Asks a record the server keeps what became of batches; leaves out those it cannot tell."""

    async def resolve(self, batches: Sequence[InFlightBatch]) -> Mapping[int, Resolution]:
        """Map batch ids to the server's answer or `NOT_RECEIVED`; omit batches still unknown."""
        ...


def batch_tag(campaign_id: str, batch_id: int) -> str:
    """The `biTag` of one batch: fixed width, so every body has the size that was validated."""
    return f"{TAG_PREFIX}{campaign_id}:{batch_id:010d}"


class EmulatorRequestLog:
    """Settles lost answers from the local Push server's own request log (its admin API)."""

    def __init__(
        self,
        base_url: str,
        project_id: str,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        handling_seconds: float = DEFAULT_HANDLING_SECONDS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.project_id = project_id
        self.handling_seconds = handling_seconds
        self._transport = transport
        self._timeout = timeout

    async def resolve(self, batches: Sequence[InFlightBatch]) -> Mapping[int, Resolution]:
        """Each tagged batch: the answer the server recorded, or NOT_RECEIVED if it has none.

        A request the server is still handling is not in its log yet (it may be accepted a
        moment later, even after the sender died), so "not there" counts only for a batch sent
        at least `handling_seconds` ago; for a more recent one the log is read again once that
        time has passed.
        """
        tagged = [batch for batch in batches if batch.tag is not None]
        if not tagged:
            return {}
        records = await self._accepted_requests()
        by_tag = {record.get("biTag"): record for record in records}
        missing_since = [
            batch.sent_at_ms
            for batch in tagged
            if batch.tag not in by_tag and batch.sent_at_ms is not None
        ]
        if missing_since:
            wait = (max(missing_since) - now_ms()) / 1000 + self.handling_seconds
            if wait > 0:
                await asyncio.sleep(wait)
                records = await self._accepted_requests()
                by_tag = {record.get("biTag"): record for record in records}
        # The log comes newest first and capped: a batch sent before its oldest entry may be
        # beyond the cap, so "not there" proves nothing for it.
        covered_since = _oldest_accepted_ms(records) if len(records) >= REQUEST_LOG_LIMIT else 0
        resolved: dict[int, Resolution] = {}
        for batch in tagged:
            record = by_tag.get(batch.tag)
            if record is not None:
                resolved[batch.batch_id] = _as_result(record, batch.tokens)
            elif batch.sent_at_ms is not None and batch.sent_at_ms >= covered_since:
                resolved[batch.batch_id] = NOT_RECEIVED
        return resolved

    async def _accepted_requests(self) -> list[dict[str, object]]:
        url = f"{self.base_url}/admin/requests"
        params: dict[str, str | int] = {"project_id": self.project_id, "limit": REQUEST_LOG_LIMIT}
        try:
            async with httpx2.AsyncClient(transport=self._transport, timeout=self._timeout) as http:
                response = await http.get(url, params=params)
        except httpx2.HTTPError as error:
            raise TransportError(f"cannot read the request log at {url}: {error}") from error
        if response.status_code != 200:
            raise TransportError(
                f"the request log at {url} answered HTTP {response.status_code}; "
                "is the endpoint a local hmpush Push server?"
            )
        records = orjson.loads(response.content)
        if not isinstance(records, list):
            raise TransportError(f"the request log at {url} is not a list")
        return [record for record in records if isinstance(record, dict)]


def _oldest_accepted_ms(records: Sequence[Mapping[str, object]]) -> int:
    """When the oldest request in a (capped) log was accepted; later sends are all covered."""
    times = [value for record in records if isinstance(value := record.get("acceptedAtMs"), int)]
    # A request is accepted after it is sent: allow for the two clocks and the time on the wire.
    return min(times) + CLOCK_SLACK_MS if times else 2**63


def _as_result(record: Mapping[str, object], tokens: Sequence[str]) -> BatchResult:
    """The recorded answer read exactly as the client reads a live one."""
    answer = {key: record.get(key) for key in ("code", "msg", "requestId")}
    try:
        return result_from_answer(answer, tokens)
    except PushError:
        # A recorded request is an accepted one; a code the client reads as a refusal would be
        # a server bug. Count every token as accepted rather than send them again.
        return BatchResult.all_accepted(
            str(record.get("requestId") or ""), str(record.get("code")), tokens
        )
