"""Deterministic fault injection for `messages:send` (in the spirit of go-apnsmock).

A rule matches requests by project, push-type, token prefix, the n-th matching request and/or
a seeded probability, and then adds latency, answers 500/502/503 (503 with or without
`Retry-After`), answers a business code from the table, fails the matching tokens with a
per-token reason, or drops the connection without any response. Business codes and per-token
reasons make every code and reason of spec §10 producible, including those no state of the
emulator leads to (image anti-spam 80100022, `countryNotSupport`, `tokenPlatformNotSupport`,
`appinfoError`, …).
Rules are tried in the order they were added; the first that fires decides. A rule with
`times` retires after firing that often. Seeded probabilities make a run repeatable: each rule
owns its random generator.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hmpush import codes
from hmpush.codes import TokenFailure

__all__ = [
    "ConnectionDropped",
    "FaultInjector",
    "FaultRule",
    "FiredFault",
    "drop_client_connection",
]


class FaultRule(BaseModel):
    """When a fault fires and what it does."""

    model_config = ConfigDict(extra="forbid")

    project_id: str | None = Field(None, description="Only requests to this project.")
    push_type: int | None = Field(None, description="Only requests with this push-type header.")
    token_prefix: str | None = Field(
        None, min_length=1, description="Only requests with a target token starting with this."
    )
    nth: int | None = Field(
        None, ge=1, description="Fire on the n-th request matching the filters above (1-based)."
    )
    probability: float | None = Field(
        None, ge=0.0, le=1.0, description="Fire with this probability (seeded, repeatable)."
    )
    seed: int = Field(0, description="Seed of this rule's random generator.")
    status: Literal[500, 502, 503] | None = Field(None, description="Answer this HTTP status.")
    retry_after: float | None = Field(
        None, gt=0, description="Seconds for the Retry-After header (only with status 503)."
    )
    code: str | None = Field(
        None,
        description="Answer this business code of the code table (e.g. 80100022) with its HTTP"
        " status and message; nothing is stored.",
    )
    token_failure: TokenFailure | None = Field(
        None,
        description="Fail the tokens starting with `token_prefix` (every token without one)"
        " with this per-token reason; the others are handled as usual (80100000/80300007).",
    )
    latency_ms: int = Field(0, ge=0, le=600_000, description="Delay before answering.")
    drop_connection: bool = Field(False, description="Close the connection without a response.")
    times: int | None = Field(None, ge=1, description="Retire the rule after firing this often.")

    @field_validator("code")
    @classmethod
    def _code_from_the_table(cls, code: str | None) -> str | None:
        if code is not None and code not in _ANSWERABLE_CODES:
            raise ValueError(f"code must be one of {', '.join(sorted(_ANSWERABLE_CODES))}")
        return code

    @model_validator(mode="after")
    def _one_clear_action(self) -> FaultRule:
        answers = [
            name
            for name in ("status", "code", "token_failure", "drop_connection")
            if getattr(self, name) not in (None, False)
        ]
        if not answers and self.latency_ms == 0:
            raise ValueError(
                "a fault needs an action: status, code, token_failure, drop_connection"
                " or latency_ms"
            )
        if len(answers) > 1:
            raise ValueError(f"{' and '.join(answers)} exclude each other")
        if self.retry_after is not None and self.status != 503:
            raise ValueError("retry_after goes only with status 503")
        return self


# Whole-request refusals a rule may answer; the outcomes of token handling (80000000, 80100000,
# 80300007) come from `token_failure` instead, so their `msg` is always well formed.
_ANSWERABLE_CODES = frozenset(codes.BUSINESS_CODES) - {
    codes.SUCCESS.code,
    codes.PARTIAL_SUCCESS.code,
    codes.ALL_TOKENS_INVALID.code,
}


@dataclass(frozen=True, slots=True)
class FiredFault:
    """What the server must do for one request."""

    rule_id: int
    latency_seconds: float
    status: int | None
    retry_after: float | None
    drop_connection: bool
    code: str | None = None
    token_failure: TokenFailure | None = None
    token_prefix: str | None = None


@dataclass(slots=True)
class _ActiveRule:
    rule_id: int
    rule: FaultRule
    rng: random.Random
    seen: int = 0
    fired: int = 0
    remaining: int | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.rule_id,
            **self.rule.model_dump(),
            "seen": self.seen,
            "fired": self.fired,
            "remaining": self.remaining,
        }


class FaultInjector:
    """The active fault rules of one server (in memory; thread-safe)."""

    def __init__(self) -> None:
        self._rules: list[_ActiveRule] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        """Whether any rule is set (the hot path skips all work when not)."""
        return bool(self._rules)

    @property
    def needs_tokens(self) -> bool:
        """Whether a rule filters on token prefixes (only then is the body inspected)."""
        return any(active.rule.token_prefix is not None for active in self._rules)

    def add(self, rule: FaultRule | Mapping[str, Any]) -> dict[str, Any]:
        """Add a rule (model or its JSON form); returns it with its id."""
        checked = rule if isinstance(rule, FaultRule) else FaultRule.model_validate(rule)
        with self._lock:
            active = _ActiveRule(
                next(self._ids), checked, random.Random(checked.seed), remaining=checked.times
            )
            self._rules.append(active)
            return active.to_dict()

    def remove(self, rule_id: int) -> bool:
        """Remove one rule; False if no such rule is active."""
        with self._lock:
            before = len(self._rules)
            self._rules = [active for active in self._rules if active.rule_id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules = []

    def list(self) -> list[dict[str, Any]]:
        """The active rules with their counters."""
        with self._lock:
            return [active.to_dict() for active in self._rules]

    def match(
        self, project_id: str, push_type: int | None, tokens: Sequence[str]
    ) -> FiredFault | None:
        """The fault this request triggers, if any (advances counters and generators)."""
        with self._lock:
            for active in self._rules:
                if not _filters_match(active.rule, project_id, push_type, tokens):
                    continue
                active.seen += 1
                if not _fires(active):
                    continue
                active.fired += 1
                if active.remaining is not None:
                    active.remaining -= 1
                    if active.remaining == 0:
                        self._rules = [r for r in self._rules if r is not active]
                rule = active.rule
                return FiredFault(
                    active.rule_id,
                    rule.latency_ms / 1000,
                    rule.status,
                    rule.retry_after,
                    rule.drop_connection,
                    rule.code,
                    rule.token_failure,
                    rule.token_prefix,
                )
        return None


def _filters_match(
    rule: FaultRule, project_id: str, push_type: int | None, tokens: Sequence[str]
) -> bool:
    if rule.project_id is not None and rule.project_id != project_id:
        return False
    if rule.push_type is not None and rule.push_type != push_type:
        return False
    prefix = rule.token_prefix
    return prefix is None or any(token.startswith(prefix) for token in tokens)


def _fires(active: _ActiveRule) -> bool:
    rule = active.rule
    if rule.nth is not None and active.seen != rule.nth:
        return False
    # The generator advances once per matching request, so a seeded run always repeats.
    return rule.probability is None or active.rng.random() < rule.probability


class ConnectionDropped(Exception):
    """Raised where the server cannot close the client's socket itself (e.g. in-process)."""


def drop_client_connection(client: tuple[str, int] | Sequence[Any] | None) -> bool:
    """Shut down the server's socket to `client` (host, port), so it gets no response at all.

    ASGI gives an application no handle on its socket; on Linux the process's open sockets are
    listed in /proc/self/fd, and the one whose peer is the client is shut down. Returns False
    where that is impossible (other systems, in-process transports); the caller then raises
    `ConnectionDropped`.
    """
    if client is None or not os.path.isdir("/proc/self/fd"):
        return False
    host, port = str(client[0]), int(client[1])
    return any(_shutdown_if_peer(int(name), host, port) for name in os.listdir("/proc/self/fd"))


def _shutdown_if_peer(fd: int, host: str, port: int) -> bool:
    try:
        if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
            return False
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return False
    try:
        peer = sock.getpeername()
        if isinstance(peer, tuple) and peer[0] == host and int(peer[1]) == port:
            # shutdown acts on the shared socket, not just this duplicate descriptor.
            sock.shutdown(socket.SHUT_RDWR)
            return True
        return False
    except OSError:
        return False
    finally:
        sock.close()
