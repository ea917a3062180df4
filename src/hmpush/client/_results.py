"""What a send returns: per-request results, per-token outcomes and request previews."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from hmpush._redact import shorten_token
from hmpush.codes import DROP_TOKEN_REASONS
from hmpush.errors import HmpushError, PushError

__all__ = [
    "NOT_SENT",
    "TRANSPORT_FAILURE",
    "BatchFailure",
    "BatchResult",
    "HttpRequestPreview",
    "SendResult",
    "TokenOutcome",
]

# Reasons the client itself gives for tokens of a batch that got no per-token answer. They are
# not Huawei reasons, so they use a prefix that cannot collide with an `illegalTokens` key.
NOT_SENT = "client:notSent"  # an earlier batch of the same call was refused; this one was not tried
TRANSPORT_FAILURE = "client:transportError"  # the server could not be reached or did not answer
UNREPORTED = "client:unreportedOutcome"  # a per-token answer whose `msg` could not be read


@dataclass(frozen=True, slots=True)
class TokenOutcome:
    """What happened to one token: accepted, or refused with a reason."""

    token: str
    accepted: bool
    reason: str | None
    request_id: str | None

    def __repr__(self) -> str:
        return (
            f"TokenOutcome(token={shorten_token(self.token)!r}, accepted={self.accepted}, "
            f"reason={self.reason!r}, request_id={self.request_id!r})"
        )


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The answer to one HTTP request: accepted tokens and refused tokens with their reasons.

    `attempts` counts the tries the retry policy made (a resend right after re-signing an
    expired JWT belongs to the same try).
    """

    request_id: str
    code: str
    http_status: int
    accepted: list[str]
    failures: dict[str, str]
    attempts: int = 1
    tokens: list[str] = field(default_factory=list, repr=False)  # as sent, in order

    @classmethod
    def all_accepted(
        cls,
        request_id: str,
        code: str,
        tokens: Sequence[str],
        *,
        http_status: int = 200,
        attempts: int = 1,
    ) -> BatchResult:
        """The result of a request that accepted every one of its `tokens`."""
        sent = list(tokens)
        return cls(request_id, code, http_status, sent, {}, attempts, sent)

    def outcomes(self) -> Iterator[TokenOutcome]:
        """One outcome per token, in the order they were sent."""
        failures = self.failures
        for token in self.tokens:
            reason = failures.get(token)
            yield TokenOutcome(token, reason is None, reason, self.request_id)
        if len(failures) + len(self.accepted) > len(self.tokens):
            # The server named tokens this request did not carry; report them too.
            sent = set(self.tokens)
            for token, reason in failures.items():
                if token not in sent:
                    yield TokenOutcome(token, False, reason, self.request_id)

    def __repr__(self) -> str:
        return (
            f"BatchResult(request_id={self.request_id!r}, code={self.code!r}, "
            f"http_status={self.http_status}, accepted={len(self.accepted)}, "
            f"failures={len(self.failures)}, attempts={self.attempts})"
        )


@dataclass(frozen=True, slots=True)
class BatchFailure:
    """A batch the server refused as a whole (or never answered), after any retries."""

    tokens: list[str]
    error: HmpushError

    @property
    def reason(self) -> str:
        """The reason given to each of its tokens: the refusal's code, or a transport failure."""
        return self.error.code if isinstance(self.error, PushError) else TRANSPORT_FAILURE

    @property
    def request_id(self) -> str | None:
        """The refusal's `requestId`, when the server sent one."""
        return self.error.request_id if isinstance(self.error, PushError) else None


@dataclass(frozen=True, slots=True)
class SendResult:
    """The merged outcome of one `send` call: iterate it for one `TokenOutcome` per token."""

    batches: list[BatchResult]
    failed_batches: list[BatchFailure] = field(default_factory=list)
    not_sent: list[str] = field(default_factory=list)
    repeated_tokens: int = 0  # extra copies of tokens listed more than once (each sent once)

    def __iter__(self) -> Iterator[TokenOutcome]:
        for batch in self.batches:
            yield from batch.outcomes()
        for failure in self.failed_batches:
            for token in failure.tokens:
                yield TokenOutcome(token, False, failure.reason, failure.request_id)
        for token in self.not_sent:
            yield TokenOutcome(token, False, NOT_SENT, None)

    def __len__(self) -> int:
        return (
            sum(len(batch.accepted) + len(batch.failures) for batch in self.batches)
            + sum(len(failure.tokens) for failure in self.failed_batches)
            + len(self.not_sent)
        )

    @property
    def request_ids(self) -> list[str]:
        """The `requestId` of every answered request, in batch order."""
        ids = [batch.request_id for batch in self.batches]
        ids.extend(f.request_id for f in self.failed_batches if f.request_id is not None)
        return ids

    @property
    def accepted(self) -> list[str]:
        """Tokens the server accepted."""
        return [token for batch in self.batches for token in batch.accepted]

    @property
    def failures(self) -> dict[str, str]:
        """Every token not accepted, with its reason (a Huawei reason, a code, or `client:…`)."""
        return {outcome.token: outcome.reason or "" for outcome in self if not outcome.accepted}

    @property
    def invalid_tokens(self) -> list[str]:
        """Tokens refused because the token itself is unusable: drop or re-fetch these."""
        return [
            token
            for batch in self.batches
            for token, reason in batch.failures.items()
            if reason in DROP_TOKEN_REASONS
        ]

    @property
    def errors(self) -> list[HmpushError]:
        """The whole-request refusals and transport failures met by this call."""
        return [failure.error for failure in self.failed_batches]

    @property
    def all_accepted(self) -> bool:
        """True when every token of the call was accepted."""
        return (
            not self.failed_batches
            and not self.not_sent
            and not any(batch.failures for batch in self.batches)
        )

    @property
    def accepted_count(self) -> int:
        """How many tokens were accepted."""
        return sum(len(batch.accepted) for batch in self.batches)

    def __repr__(self) -> str:
        return (
            f"SendResult(requests={len(self.batches)}, accepted={self.accepted_count}, "
            f"refused={len(self) - self.accepted_count}, failed_batches="
            f"{len(self.failed_batches)}, not_sent={len(self.not_sent)}, "
            f"repeated_tokens={self.repeated_tokens})"
        )


@dataclass(frozen=True, slots=True)
class HttpRequestPreview:
    """The exact HTTP request a send would make; the JWT in `headers` is redacted."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    tokens: list[str]
