"""Our own golden sets (bench/golden/) are well formed: they load, ids are unique, every relevant document is in the
set's document pool, and the pool names each document once. Exact-term sets built on a shared stripped corpus
(``ON_SHARED_CORPUS``, bench/golden/README.md) have no pool file: each question names its term instead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestion.evaluation.runner import load_golden

GOLDEN = Path(__file__).resolve().parents[2] / "bench" / "golden"
SETS = sorted(path.stem for path in GOLDEN.glob("*.jsonl"))
ON_SHARED_CORPUS = {"sqlite_keywords": "sqlite_faq"}


def pool(name: str) -> list[str]:
    lines = (GOLDEN / f"{name}.corpus.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_there_is_at_least_one_own_set() -> None:
    assert "latex_packages" in SETS


@pytest.mark.parametrize("name", SETS)
def test_an_own_set_is_well_formed(name: str) -> None:
    queries = load_golden(GOLDEN / f"{name}.jsonl")
    assert len(queries) >= 50
    assert len({q.id for q in queries}) == len(queries)
    assert len({q.query.casefold() for q in queries}) == len(queries)
    if name in ON_SHARED_CORPUS:
        rows = [json.loads(line) for line in (GOLDEN / f"{name}.jsonl").read_text().splitlines() if line.strip()]
        assert all(row["term"] in row["query"] for row in rows)
        assert all(path.endswith(".html") and not path.startswith("/") for q in queries for path in q.relevant)
        return
    documents = pool(name)
    assert len(set(documents)) == len(documents)
    outside = sorted({path for q in queries for path in q.relevant} - set(documents))
    assert outside == []
