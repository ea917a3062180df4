"""Reading token lists: text (one token per line) or CSV, from a file or a stream, any size.

Lines are read one at a time and never kept: the caller receives `InputLine`s and counts.
Blank lines are skipped and counted; a line that cannot be a push token (by
`hmpush.messages.is_plausible_token`) is reported with its line number and the rule it breaks.
"""

from __future__ import annotations

import csv
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from hmpush.errors import HmpushError

InputFormat = Literal["auto", "text", "csv"]

TOKEN_COLUMN = "token"
# How much of a rejected line the reports show; a whole 10 MB line helps nobody.
REJECTED_TEXT_LIMIT = 200
BLOCK_BYTES = 1 << 20
CSV_TOKENS_PER_CHUNK = 1000


class TokenInputError(HmpushError):
    """The token list cannot be read (missing file, unreadable, wrong format)."""


@dataclass(frozen=True, slots=True)
class RejectedLine:
    """An input line that cannot be a push token: its number, its text and the rule it breaks."""

    line: int
    text: str
    rule: str


@dataclass(slots=True)
class InputCounts:
    """What reading the token list found, line by line."""

    lines: int = 0
    blank_lines: int = 0
    header_lines: int = 0
    rejected_lines: int = 0


TokenInput = str | os.PathLike[str] | BinaryIO | Iterable[str]


def describe_source(source: TokenInput) -> tuple[str, int | None]:
    """A name for the token source and its size in bytes when it is a regular file."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            return str(path), path.stat().st_size
        except OSError as error:
            raise TokenInputError(f"cannot read token file {path}: {error.strerror}") from None
    name = getattr(source, "name", None)
    return (str(name) if isinstance(name, str) else "<stream>"), None


def open_source(source: TokenInput) -> tuple[Iterable[bytes], BinaryIO | None]:
    """The source as bytes (a file, or lines), and the file to close afterwards (or None)."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.is_dir():
            raise TokenInputError(f"cannot read token file {path}: it is a directory")
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by the caller
        except OSError as error:
            raise TokenInputError(f"cannot read token file {path}: {error.strerror}") from None
        return handle, handle
    if hasattr(source, "read"):
        return source, None  # type: ignore[return-value]
    return (line.encode() if isinstance(line, str) else line for line in source), None


def choose_format(name: str, requested: InputFormat, first_line: bytes | None) -> str:
    """Text or CSV: as requested, else by file extension, else by a comma in the first line."""
    if requested != "auto":
        return requested
    lowered = name.lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith((".txt", ".tokens")):
        return "text"
    return "csv" if first_line is not None and b"," in first_line else "text"


def iter_tokens(
    raw: Iterable[bytes],
    name: str,
    requested: InputFormat,
    counts: InputCounts,
    is_plausible: Callable[[str], bool],
) -> Iterator[list[str] | RejectedLine]:
    """Yield lists of tokens, and a `RejectedLine` for each bad line, in input order."""
    chunks = _chunks(raw)
    first = next(chunks, b"")
    first_line = next((line for line in first.split(b"\n") if line.strip()), None)
    chained = itertools.chain([first], chunks)
    if choose_format(name, requested, first_line) == "csv":
        lines = (line for chunk in chained for line in chunk.splitlines(keepends=True))
        yield from _iter_csv(lines, counts, is_plausible)
    else:
        yield from _iter_text(chained, counts, is_plausible)


def _bulk_check(is_plausible: Callable[[str], bool]) -> Callable[[list[str]], bool]:
    """Whether every string of a list passes `is_plausible`, at C speed for the real rule."""
    from hmpush.messages import implausible_tokens, is_plausible_token

    if is_plausible is is_plausible_token:
        return lambda tokens: not implausible_tokens(tokens)
    return lambda tokens: all(map(is_plausible, tokens))


def _chunks(raw: Iterable[bytes]) -> Iterator[bytes]:
    """The input in pieces of about 1 MiB, each ending at a line break (but maybe the last)."""
    read = getattr(raw, "read", None)
    if read is None:
        yield from _chunks_of_lines(raw)
        return
    rest = b""
    while data := read(BLOCK_BYTES):
        data = rest + data
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut]
        rest = data[cut:]
    if rest:
        yield rest


def _chunks_of_lines(lines: Iterable[bytes]) -> Iterator[bytes]:
    pending: list[bytes] = []
    size = 0
    for line in lines:
        if not line.endswith(b"\n"):
            line += b"\n"
        pending.append(line)
        size += len(line)
        if size >= BLOCK_BYTES:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def _iter_text(
    chunks: Iterable[bytes], counts: InputCounts, is_plausible: Callable[[str], bool]
) -> Iterator[list[str] | RejectedLine]:
    """Text in chunks: a chunk of good tokens costs a few C-level passes, not a loop per line."""
    all_plausible = _bulk_check(is_plausible)
    number = 0
    for chunk in chunks:
        complete = chunk.endswith(b"\n")
        try:
            text = chunk.decode()
        except UnicodeDecodeError:
            text = None
        if text is not None:
            texts = text.split("\n")
            if complete:
                texts.pop()
            padded = "\r" in text or " " in text or "\t" in text  # CRLF, stray spaces
            tokens = [line.strip() for line in texts] if padded else texts
            if not all_plausible(tokens):
                tokens = []
            if tokens or not texts:
                number += len(tokens)
                yield tokens
                continue
        lines = chunk.split(b"\n")
        if complete:
            lines.pop()
        yield from _check_lines(lines, number, counts, is_plausible)
        number += len(lines)
    counts.lines = number


def _check_lines(
    block: list[bytes], first: int, counts: InputCounts, is_plausible: Callable[[str], bool]
) -> Iterator[list[str] | RejectedLine]:
    """The slow path, line by line, for a block with a blank or bad line in it."""
    tokens: list[str] = []
    for number, raw in enumerate(block, first + 1):
        stripped = raw.strip()
        if not stripped:
            counts.blank_lines += 1
            continue
        try:
            token = stripped.decode()
        except UnicodeDecodeError:
            token = ""
        if token and is_plausible(token):
            tokens.append(token)
            continue
        if tokens:
            yield tokens
            tokens = []
        counts.rejected_lines += 1
        text = token or stripped.decode(errors="replace")
        yield RejectedLine(number, _shown(text), _token_rule(text))
    if tokens:
        yield tokens


def _iter_csv(
    lines: Iterable[bytes], counts: InputCounts, is_plausible: Callable[[str], bool]
) -> Iterator[list[str] | RejectedLine]:
    reader = csv.reader(raw.decode(errors="replace") for raw in lines)
    column = 0
    first_row = True
    tokens: list[str] = []
    try:
        for row in reader:
            if not row or not any(cell.strip() for cell in row):
                counts.blank_lines += 1
                continue
            if first_row:
                first_row = False
                names = [cell.strip().lower() for cell in row]
                if TOKEN_COLUMN in names:
                    column = names.index(TOKEN_COLUMN)
                    counts.header_lines += 1
                    continue
            token = row[column].strip() if column < len(row) else ""
            if token and is_plausible(token):
                tokens.append(token)
                if len(tokens) >= CSV_TOKENS_PER_CHUNK:
                    yield tokens
                    tokens = []
                continue
            if tokens:
                yield tokens
                tokens = []
            counts.rejected_lines += 1
            if column >= len(row):
                yield RejectedLine(
                    reader.line_num, _shown(",".join(row)), f"has no column {column + 1}"
                )
            else:
                yield RejectedLine(reader.line_num, _shown(token), _token_rule(token))
    except csv.Error as error:
        raise TokenInputError(f"token CSV line {reader.line_num}: {error}") from None
    if tokens:
        yield tokens
    counts.lines = reader.line_num


def _token_rule(token: str) -> str:
    if not token:
        return "empty token cell"
    if "\ufffd" in token:
        return "not UTF-8 text"
    return "cannot be a push token (tokenFormatError)"


def _shown(text: str) -> str:
    if len(text) <= REJECTED_TEXT_LIMIT:
        return text
    return text[:REJECTED_TEXT_LIMIT] + "…"
