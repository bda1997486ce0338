"""The shared building blocks: normalization, pipe tables, code fences, and page offsets in the builder."""

from __future__ import annotations

import pytest

from ingestion.cracking.structure import (
    DocumentBuilder,
    TableLimits,
    code_fence,
    collect_rows,
    normalize_inline,
    pipe_table,
    tidy_block,
)
from ingestion.models import PageSpan


def test_normalize_inline_collapses_all_whitespace_and_controls():
    assert normalize_inline("  a \n\t b\u00a0\u00a0c\x0bd  ") == "a b c d"


def test_tidy_block_keeps_indentation_but_not_trailing_space_or_blank_runs():
    assert tidy_block("\n\n  code\t \r\n\r\n\n\n  more  \x00\n\n") == "  code\n\n  more"


def test_collect_rows_caps_rows_columns_and_cells_and_escapes_pipes():
    limits = TableLimits(max_rows=2, max_columns=2, max_cell_chars=5)
    rows = [["a|b", "long cell text", "dropped"], ["", ""], ["x", "y"], ["left", "out"]]

    kept, truncated = collect_rows(iter(rows), limits)

    assert kept == [["a\\|b", "long…"], ["x", "y"]]
    assert truncated is True


def test_collect_rows_stops_scanning_long_runs_of_empty_rows():
    limits = TableLimits(max_scanned_rows=100)

    kept, truncated = collect_rows(([""] for _ in range(10**9)), limits)

    assert (kept, truncated) == ([], True)


def test_pipe_table_pads_short_rows_and_drops_empty_trailing_columns():
    assert pipe_table([["h1", "h2", ""], ["1"]]) == "| h1 | h2 |\n|---|---|\n| 1 |  |"
    assert pipe_table([]) == ""
    assert pipe_table([["", ""]]) == ""


def test_code_fence():
    assert code_fence("\nprint(1)\n", "py") == "```py\nprint(1)\n```"
    assert code_fence("a ```` b") == "`````\na ```` b\n`````"


def test_builder_records_page_starts_at_true_offsets_and_skips_empty_pages():
    builder = DocumentBuilder(content_type="application/pdf")
    builder.start_page(1)
    builder.paragraph("first   page")
    builder.start_page(2)
    builder.paragraph("   ")
    builder.start_page(3)
    builder.heading("Third", 2)
    builder.table([["a", "b"], ["1", "2"]])

    document = builder.build(title="  Doc \n title ")

    assert document.text == "first page\n\n## Third\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    assert document.pages == (PageSpan(start=0, number=1), PageSpan(start=12, number=3))
    assert document.text[12:].startswith("## Third")
    assert document.title == "Doc title"
    assert document.content_type == "application/pdf"


def test_table_limits_are_validated():
    with pytest.raises(ValueError, match="at least 1"):
        TableLimits(max_rows=0)
