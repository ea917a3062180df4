"""Cost of one PS256 signature and one verification, for 2048- and 4096-bit keys.

Run: .venv/bin/python benchmarks/auth.py [--repeat N]
Prints a Markdown table (median per operation over N runs).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from hmpush.auth import (
    JwtSigner,
    JwtVerifier,
    ServiceAccount,
    VerificationKey,
    _account,
    generate_service_account,
)


def median_microseconds(operation: Callable[[], object], repeat: int) -> float:
    """Median wall time of one call, in microseconds."""
    operation()  # warm up
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        operation()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


def measure(bits: int, repeat: int) -> list[tuple[str, float]]:
    """The timed operations for one key size."""
    account = generate_service_account("100000001", bits=bits)
    key = VerificationKey.from_account(account)
    signer = JwtSigner(account)
    authorization = f"Bearer {signer.token()}"
    uncached = JwtVerifier({key.key_id: key}.get, cache_size=0)
    cached = JwtVerifier({key.key_id: key}.get)
    key_file = account.to_json()
    return [
        ("sign one JWT (`JwtSigner.refresh()`)", median_microseconds(signer.refresh, repeat)),
        ("cached JWT (`JwtSigner.token()`)", median_microseconds(signer.token, repeat)),
        (
            "verify, first sight of a token",
            median_microseconds(lambda: uncached.verify(authorization, "100000001"), repeat),
        ),
        (
            "verify, token seen before (cache hit)",
            median_microseconds(lambda: cached.verify(authorization, "100000001"), repeat),
        ),
        (
            "load a key file, first time (checks the RSA key)",
            median_microseconds(lambda: _load_unseen(key_file), max(repeat // 20, 5)),
        ),
        (
            "load the same key file again",
            median_microseconds(lambda: ServiceAccount.from_json(key_file), repeat),
        ),
    ]


def _load_unseen(key_file: str) -> ServiceAccount:
    _account._PARSED_KEYS.clear()  # make the process forget it has checked this key
    return ServiceAccount.from_json(key_file)


def main() -> None:
    """Measure both key sizes and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200, help="runs per operation")
    repeat = parser.parse_args().repeat
    results = {bits: measure(bits, repeat) for bits in (2048, 4096)}
    print("| operation | RSA-2048 | RSA-4096 |")
    print("|---|---:|---:|")
    for index, (name, _) in enumerate(results[2048]):
        row = " | ".join(_format(results[bits][index][1]) for bits in (2048, 4096))
        print(f"| {name} | {row} |")


def _format(microseconds: float) -> str:
    if microseconds >= 1000:
        return f"{microseconds / 1000:.2f} ms"
    return f"{microseconds:.1f} µs"


if __name__ == "__main__":
    main()
