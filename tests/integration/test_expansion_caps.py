"""Caps on how far one document may expand: chunks, workbook cells, re-printed JSON. Each a one-line reason naming
the file; the other documents of the run are unaffected."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import openpyxl

from ingestion.cracking.registry import LocalCracker
from ingestion.cracking.structure import TableLimits
from ingestion.sources.local import LocalFolderSource
from tests.integration.test_pipeline_local import CountingEmbedder, make_pipeline


def workbook(sheets: int, rows: int, columns: int) -> bytes:
    book = openpyxl.Workbook()
    for s in range(sheets):
        sheet = book.active if s == 0 else book.create_sheet()
        for r in range(rows):
            sheet.append([f"s{s}r{r}c{c}" for c in range(columns)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_each_cap_fails_only_its_document_with_a_one_line_reason(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "long.md").write_text("# Long\n\n" + "A sentence that fills chunks quickly enough. " * 400)
    (root / "cells.xlsx").write_bytes(workbook(sheets=3, rows=40, columns=10))  # 1,200 cells
    (root / "nested.json").write_text(json.dumps([[i, [i, {"k": i}]] for i in range(3000)]))  # re-printed: ~170 kB
    (root / "small.txt").write_text("A small note that fits every cap.\n")
    (root / "small.json").write_text('{"note": "fits"}')
    embedder = CountingEmbedder()
    pipeline = make_pipeline(tmp_path / "index.sqlite", embedder)
    pipeline.cracker = LocalCracker(table_limits=TableLimits(max_workbook_cells=1_000, max_json_text_bytes=100_000))
    pipeline.options = replace(pipeline.options, max_chunks_per_document=20)
    await pipeline.index.ensure()
    result = await pipeline.run(LocalFolderSource(root))
    await pipeline.close()
    assert (result.added, result.failed) == (2, 3)
    reasons = {Path(f["source"]).name: f["error"] for f in result.failures}
    assert (
        reasons["long.md"].startswith(f"{root / 'long.md'}: ")
        and "over MAX_CHUNKS_PER_DOCUMENT=20" in reasons["long.md"]
    )
    assert reasons["cells.xlsx"] == f"{root / 'cells.xlsx'}: workbook has more than 1,000 cells (MAX_WORKBOOK_CELLS)"
    assert reasons["nested.json"] == (
        f"{root / 'nested.json'}: JSON re-printed is over 100,000 bytes (MAX_JSON_TEXT_BYTES)"
    )
    assert all("\n" not in reason for reason in reasons.values())
