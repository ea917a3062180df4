"""Client throughput: tokens per second in 1000-token requests to a local sink.

The sink is a bare HTTP server (Granian serving the tiny ASGI app `sink_app` below in a
subprocess) that answers `80000000` at once, so the figures measure the sender, not a server.
Three senders run in the same process, one after the other, against the same sink:

* hmpush: `AsyncPushClient.send(message, tokens)` (validation, dropping repeated tokens,
  batching, retries, per-token results, all included; the JWT is signed before timing, as it
  is once an hour in service; each run gets new token strings, as from a database), and the
  same through the synchronous `PushClient`;
* practical limit: a minimal hand-written httpx2 loop posting pre-built bodies with the same
  concurrency and connection limits, reading nothing but the status;
* docs-style: a sequential `requests.post` per 1000 tokens with `json.dumps`, no session, as
  Huawei's sample code sends.

Scenarios (default: all three): the sink over plain HTTP; over HTTPS (a self-signed certificate
made for the run), as Huawei's endpoint is HTTPS-only and a loop without a connection pool pays a
TLS handshake per request; and over HTTPS with the sink answering after 20 ms, standing for the
round trip to a distant server, which is where concurrency pays.

Run: `.venv/bin/python benchmarks/client.py [--tokens 200000] [--concurrency 8] [--rounds 7]`.
Goals: hmpush reaches at least 80 % of the practical limit and at least 5x the docs-style loop.
Figures are medians over the rounds; the senders take turns within each round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

_SINK_ANSWER = b'{"code":"80000000","msg":"Success","requestId":"1"}'
_BATCH = 1000


# Seconds the sink waits before answering (0: at once); set per scenario by the parent process.
_SINK_DELAY = float(os.environ.get("HMPUSH_BENCH_SINK_DELAY_MS", "0")) / 1000


async def sink_app(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
    """The bare sink: read the whole body, answer success (at once unless a delay is set)."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    if _SINK_DELAY:
        await asyncio.sleep(_SINK_DELAY)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": _SINK_ANSWER})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start_sink(port: int, tls: tuple[Path, Path] | None, delay_ms: int) -> subprocess.Popen[bytes]:
    granian = Path(sys.executable).parent / "granian"
    command = [
        str(granian),
        "--interface", "asgi",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
        "--no-ws",
        "--log-level", "warning",
        "--working-dir", str(Path(__file__).parent),
    ]  # fmt: skip
    if tls is not None:
        certificate, key = tls
        command += ["--ssl-certificate", str(certificate), "--ssl-keyfile", str(key)]
    command.append("client:sink_app")
    environment = {**os.environ, "HMPUSH_BENCH_SINK_DELAY_MS": str(delay_ms)}
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            detail = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"sink exited: {detail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("sink did not start within 20 s")


def _tokens(count: int) -> list[str]:
    # Realistic length and alphabet (HarmonyOS tokens are ~130 base64-like characters).
    return [f"MAMzLgE{secrets.token_urlsafe(93)}"[:130] for _ in range(count)]


class _Sink:
    """Where the senders post: base URL and, for HTTPS, the certificate to trust."""

    def __init__(self, base_url: str, certificate: Path | None) -> None:
        self.base_url = base_url
        self.certificate = certificate
        self.ssl_context = (
            ssl.create_default_context(cafile=str(certificate)) if certificate else None
        )


async def _run_hmpush(sink: _Sink, account: Any, tokens: list[str], concurrency: int) -> float:
    from hmpush import AsyncPushClient
    from hmpush.auth import JwtSigner

    signer = JwtSigner(account)
    signer.token()
    async with AsyncPushClient(
        signer,
        endpoint=sink.base_url,
        max_concurrency=concurrency,
        ssl_context=sink.ssl_context,
    ) as client:
        await client.send(_message(), tokens[:_BATCH])  # warm the pool
        started = time.perf_counter()
        result = await client.send(_message(), tokens)
        elapsed = time.perf_counter() - started
    if result.accepted_count != len(tokens):
        raise RuntimeError(f"hmpush: only {result.accepted_count} of {len(tokens)} accepted")
    return len(tokens) / elapsed


def _run_hmpush_sync(sink: _Sink, account: Any, tokens: list[str], concurrency: int) -> float:
    from hmpush import PushClient
    from hmpush.auth import JwtSigner

    signer = JwtSigner(account)
    signer.token()
    with PushClient(
        signer,
        endpoint=sink.base_url,
        max_concurrency=concurrency,
        ssl_context=sink.ssl_context,
    ) as client:
        client.send(_message(), tokens[:_BATCH])  # warm the pool
        started = time.perf_counter()
        result = client.send(_message(), tokens)
        elapsed = time.perf_counter() - started
    if result.accepted_count != len(tokens):
        raise RuntimeError(f"PushClient: only {result.accepted_count} of {len(tokens)} accepted")
    return len(tokens) / elapsed


async def _run_raw_httpx(sink: _Sink, account: Any, tokens: list[str], concurrency: int) -> float:
    import httpx2

    from hmpush.auth import JwtSigner
    from hmpush.messages import prepare

    prepared = prepare(_message())
    bodies = [prepared.body_for(tokens[i : i + _BATCH]) for i in range(0, len(tokens), _BATCH)]
    url = f"{sink.base_url}/v3/{account.project_id}/messages:send"
    headers = {
        "Authorization": f"Bearer {JwtSigner(account).token()}",
        "push-type": "0",
        "Content-Type": "application/json",
    }
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    verify = sink.ssl_context or True
    async with httpx2.AsyncClient(limits=limits, timeout=10.0, verify=verify) as http:
        await http.post(url, content=bodies[0], headers=headers)  # warm the pool
        pending = iter(bodies)

        async def worker() -> None:
            for body in pending:
                response = await http.post(url, content=body, headers=headers)
                if response.status_code != 200:
                    raise RuntimeError(f"raw loop: HTTP {response.status_code}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(tokens) / elapsed


def _run_requests(sink: _Sink, account: Any, tokens: list[str]) -> float:
    import requests

    from hmpush.auth import JwtSigner

    url = f"{sink.base_url}/v3/{account.project_id}/messages:send"
    verify: str | bool = str(sink.certificate) if sink.certificate else True
    jwt = JwtSigner(account).token()
    payload = _message().to_dict()
    started = time.perf_counter()
    for start in range(0, len(tokens), _BATCH):
        body = {"payload": payload, "target": {"token": tokens[start : start + _BATCH]}}
        response = requests.post(
            url,
            data=json.dumps(body),
            headers={
                "Content-Type": "application/json; charset=UTF-8",
                "Authorization": f"Bearer {jwt}",
                "push-type": "0",
            },
            timeout=10,
            verify=verify,
        )
        if response.json()["code"] != "80000000":
            raise RuntimeError(f"requests loop: {response.text}")
    return len(tokens) / (time.perf_counter() - started)


def _message() -> Any:
    from hmpush.messages import AlertPayload, ClickAction, Notification

    return AlertPayload(
        notification=Notification(
            category="MARKETING",
            title="Weekend offer",
            body="Fresh arrivals are in: open the app to see them.",
            click_action=ClickAction(action_type=0),
        )
    )


def _fresh(tokens: list[str]) -> list[str]:
    """New string objects with the same text, as read from a database: their hashes are not
    cached yet, so the client's search for repeated tokens pays what it pays in service."""
    return [(token + ".")[:-1] for token in tokens]


def _measure(sink: _Sink, account: Any, tokens: list[str], options: Any) -> dict[str, float]:
    """Median tokens/s of each sender over the rounds (senders take turns within a round)."""
    runs: dict[str, list[float]] = {"hmpush": [], "sync": [], "raw": [], "requests": []}
    concurrency = options.concurrency
    for _ in range(options.rounds):
        runs["raw"].append(asyncio.run(_run_raw_httpx(sink, account, tokens, concurrency)))
        hmpush = _run_hmpush(sink, account, _fresh(tokens), concurrency)
        runs["hmpush"].append(asyncio.run(hmpush))
        runs["sync"].append(_run_hmpush_sync(sink, account, _fresh(tokens), concurrency))
        runs["requests"].append(_run_requests(sink, account, tokens[: options.requests_tokens]))
    return {name: statistics.median(figures) for name, figures in runs.items()}


def _report(scheme: str, figures: dict[str, float]) -> None:
    print(f"\n{scheme}:")
    print(f"  hmpush AsyncPushClient.send     {figures['hmpush']:>10,.0f} tokens/s")
    print(f"  hmpush PushClient.send (sync)   {figures['sync']:>10,.0f} tokens/s")
    print(f"  hand-written httpx2 loop (a)    {figures['raw']:>10,.0f} tokens/s")
    print(f"  sequential requests loop (b)    {figures['requests']:>10,.0f} tokens/s")
    print(f"  hmpush / (a) = {figures['hmpush'] / figures['raw']:.0%} (goal >= 80%)")
    print(f"  hmpush / (b) = {figures['hmpush'] / figures['requests']:.1f}x (goal >= 5x)")


def main() -> None:
    """Run the senders against a sink in each scenario and print tokens/s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=200_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests-tokens", type=int, default=50_000)
    parser.add_argument(
        "--scenarios",
        default="http,https,https:20",
        help="comma-separated scheme[:server delay in ms]; the delay stands for the round trip "
        "to a distant server",
    )
    options = parser.parse_args()

    from hmpush.auth import generate_service_account
    from hmpush.testing import self_signed_certificate

    account = generate_service_account("100000000000000001", bits=2048)
    tokens = _tokens(options.tokens)
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(
        f"{options.tokens} tokens (requests loop: {options.requests_tokens}), 1000 per request, "
        f"concurrency {options.concurrency}, median of {options.rounds} rounds"
    )
    with tempfile.TemporaryDirectory() as scratch:
        for scenario in options.scenarios.split(","):
            scheme, _, delay = scenario.partition(":")
            delay_ms = int(delay or 0)
            tls = self_signed_certificate(Path(scratch), "sink") if scheme == "https" else None
            port = _free_port()
            process = _start_sink(port, tls, delay_ms)
            try:
                sink = _Sink(f"{scheme}://127.0.0.1:{port}", tls[0] if tls else None)
                title = scheme.upper() + (f", sink answers after {delay_ms} ms" if delay_ms else "")
                _report(title, _measure(sink, account, tokens, options))
            finally:
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    main()
