"""Reading token lists: text and CSV, blank lines, repeats, lines that cannot be tokens."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from hmpush.fanout import TokenInputError
from hmpush.fanout._plan import PlanReport, plan_campaign
from hmpush.fanout._state import BatchState, open_state
from hmpush.messages import is_plausible_token

TOKENS = [f"MAMzLgEAAAAtoken{index:06d}xyz" for index in range(2500)]


def _plan(
    tmp_path: Path, source: object, *, batch_size: int = 1000
) -> tuple[PlanReport, list[list[str]]]:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    state = open_state(out)
    try:
        state.create_campaign("fingerprint", "test", 0, "tokens", None)
        report = plan_campaign(
            state,
            source,  # type: ignore[arg-type]
            input_format="auto",
            batch_size=batch_size,
            is_plausible=is_plausible_token,
            out_dir=out,
            rejected_file="rejected-lines.jsonl",
        )
        batches = [tokens for _, tokens in state.iter_batches()]
        assert len(state.batch_ids(BatchState.PLANNED)) == len(batches)
    finally:
        state.close()
    return report, batches


def test_text_list_becomes_batches_of_at_most_1000_in_input_order(tmp_path: Path) -> None:
    source = tmp_path / "tokens.txt"
    source.write_text("\n".join(TOKENS) + "\n")
    report, batches = _plan(tmp_path, source)
    assert [len(batch) for batch in batches] == [1000, 1000, 500]
    assert [token for batch in batches for token in batch] == TOKENS
    assert (report.tokens, report.batches, report.lines) == (2500, 3, 2500)


def test_blank_lines_spaces_and_crlf_are_tolerated_and_counted(tmp_path: Path) -> None:
    source = tmp_path / "tokens.txt"
    source.write_bytes(
        b"\r\n".join([b"", TOKENS[0].encode(), b"   ", b"  " + TOKENS[1].encode() + b"\t", b""])
    )
    report, batches = _plan(tmp_path, source)
    assert batches == [TOKENS[:2]]
    assert (report.blank_lines, report.rejected_lines, report.lines) == (2, 0, 4)


def test_repeated_tokens_are_sent_once_and_counted(tmp_path: Path) -> None:
    repeated = [*TOKENS, TOKENS[5], TOKENS[1999], TOKENS[5], TOKENS[2400]]
    source = tmp_path / "tokens.txt"
    source.write_text("\n".join(repeated))  # no final newline either
    report, batches = _plan(tmp_path, source)
    sent = [token for batch in batches for token in batch]
    assert sent == TOKENS
    assert report.duplicate_tokens == 4 and report.tokens == 2500


def test_repeats_inside_one_batch_and_across_batches(tmp_path: Path) -> None:
    lines = [TOKENS[0], TOKENS[1], TOKENS[0], TOKENS[2], TOKENS[1], TOKENS[3], TOKENS[0]]
    source = tmp_path / "tokens.txt"
    source.write_text("\n".join(lines) + "\n")
    report, batches = _plan(tmp_path, source, batch_size=2)
    assert [token for batch in batches for token in batch] == TOKENS[:4]
    assert report.duplicate_tokens == 3


def test_lines_that_cannot_be_tokens_are_reported_with_line_and_rule(tmp_path: Path) -> None:
    source = tmp_path / "tokens.txt"
    source.write_bytes(
        b"\n".join([TOKENS[0].encode(), b"not a token", b"\xff\xfe", b"short", TOKENS[1].encode()])
        + b"\n"
    )
    report, batches = _plan(tmp_path, source)
    assert batches == [TOKENS[:2]]
    assert report.rejected_lines == 3
    assert [(item.line, item.text) for item in report.first_rejected] == [
        (2, "not a token"),
        (3, "\ufffd\ufffd"),
        (4, "short"),
    ]
    assert report.first_rejected[1].rule == "not UTF-8 text"
    assert "line 2: 'not a token' cannot be a push token" in report.describe()
    written = (tmp_path / "out" / "rejected-lines.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line)["line"] for line in written] == [2, 3, 4]


def test_csv_with_a_token_column_and_without_header(tmp_path: Path) -> None:
    with_header = tmp_path / "users.csv"
    with_header.write_text(
        f'user,Token,country\n1,{TOKENS[0]},DE\n2,"{TOKENS[1]}",FR\n3,,FR\n4,{TOKENS[0]},DE\n'
    )
    report, batches = _plan(tmp_path, with_header)
    assert batches == [TOKENS[:2]]
    assert (report.header_lines, report.duplicate_tokens, report.rejected_lines) == (1, 1, 1)
    assert (
        report.first_rejected[0].line == 4 and report.first_rejected[0].rule == "empty token cell"
    )

    first_column = tmp_path / "plain.csv"
    first_column.write_text(f"{TOKENS[2]},x\n{TOKENS[3]},y\n")
    _, batches = _plan(tmp_path, first_column)
    assert batches == [TOKENS[2:4]]


def test_comma_in_the_first_line_of_an_unnamed_stream_means_csv(tmp_path: Path) -> None:
    stream = io.BytesIO(f"\ntoken,name\n{TOKENS[0]},a\n{TOKENS[1]},b\n".encode())
    report, batches = _plan(tmp_path, stream)
    assert batches == [TOKENS[:2]] and report.header_lines == 1 and report.blank_lines == 1


def test_missing_or_unreadable_token_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TokenInputError, match=r"cannot read token file .*nope\.txt: No such file"):
        _plan(tmp_path, tmp_path / "nope.txt")
    with pytest.raises(TokenInputError, match="it is a directory"):
        _plan(tmp_path, tmp_path)


@pytest.mark.parametrize("kind", ["file", "stream", "lines"])
def test_line_numbers_stay_right_across_megabyte_chunks(tmp_path: Path, kind: str) -> None:
    long_tokens = [f"MAMzLgEAAAA{index:08d}" + "x" * 120 for index in range(12_000)]
    lines = [*long_tokens[:9000], "bad line", *long_tokens[9000:], "", "also bad"]
    text = "\n".join(lines) + "\n"
    source: object
    if kind == "file":
        source = tmp_path / "tokens.txt"
        source.write_text(text)  # type: ignore[attr-defined]
    elif kind == "stream":
        source = io.BytesIO(text.encode())
    else:
        source = lines
    report, batches = _plan(tmp_path, source)
    assert [token for batch in batches for token in batch] == long_tokens
    assert [item.line for item in report.first_rejected] == [9001, 12_003]
    assert (report.lines, report.blank_lines) == (12_003, 1)
