"""Prometheus metrics of one local Push server (served at `/metrics`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, generate_latest

__all__ = ["SendMetrics"]


class SendMetrics:
    """Answers of `messages:send` by code, and tokens by outcome; one registry per server."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._answers = Counter(
            "hmpush_emulator_send_answers",
            "messages:send answers by business (or HTTP-only) code.",
            ["code"],
            registry=self.registry,
        )
        self._tokens = Counter(
            "hmpush_emulator_tokens",
            "Tokens of answered requests: 'accepted' or the per-token failure reason.",
            ["outcome"],
            registry=self.registry,
        )

    def answered(self, code: str) -> None:
        """Count one answer."""
        self._answers.labels(code).inc()

    def tokens(self, accepted: int, failures: Mapping[str, Sequence[str]]) -> None:
        """Count the tokens of a request that got per-token outcomes."""
        if accepted:
            self._tokens.labels("accepted").inc(accepted)
        for reason, tokens in failures.items():
            self._tokens.labels(reason).inc(len(tokens))

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
