"""Shortening secrets and tokens for logs, reprs and error messages."""

from __future__ import annotations


def shorten_token(token: str, *, keep: int = 4) -> str:
    """A push token as logs may show it: ``MAAA…jq`` (first `keep` and last two characters)."""
    if len(token) <= keep + 2:
        return "…"
    return f"{token[:keep]}…{token[-2:]}"


def redact_jwt(jwt: str) -> str:
    """A JWT as logs may show it: only that one was there, never its content."""
    return "<jwt redacted>" if jwt else ""
