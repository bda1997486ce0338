"""Metrics on hand-computed examples."""

from __future__ import annotations

import math

import pytest

from ingestion.evaluation.metrics import dedupe, mrr_at, ndcg_at, recall_at, summarize
from ingestion.evaluation.runner import relative_source, relative_to_any, resolve_roots


def test_recall_counts_the_fraction_of_relevant_documents_found() -> None:
    ranked = ["a", "b", "c", "d"]
    assert recall_at(ranked, {"c"}, 2) == 0.0
    assert recall_at(ranked, {"c"}, 3) == 1.0
    assert recall_at(ranked, {"a", "d", "z"}, 4) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="relevant"):
        recall_at(ranked, set(), 5)


def test_mrr_is_the_reciprocal_rank_of_the_first_relevant_within_k() -> None:
    assert mrr_at(["a", "b", "c"], {"c", "b"}, 10) == 0.5
    assert mrr_at(["a", "b", "c"], {"c"}, 2) == 0.0


def test_ndcg_with_binary_gains_and_log2_discount() -> None:
    # relevant at ranks 2 and 3 of two relevant docs: (1/log2(3) + 1/log2(4)) / (1 + 1/log2(3))
    expected = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert ndcg_at(["x", "a", "b"], {"a", "b"}, 10) == pytest.approx(expected)
    assert ndcg_at(["a"], {"a"}, 10) == 1.0
    assert ndcg_at(["x", "y"], {"a"}, 10) == 0.0


def test_several_chunks_of_one_source_count_once_at_the_first_rank() -> None:
    assert dedupe(["a", "a", "b", "a", "c", "b"]) == ["a", "b", "c"]


def test_summary_averages_and_lists_misses() -> None:
    report = summarize([("q1", ["a", "b"], {"a"}), ("q2", ["x", "y", "b"], {"b"}), ("q3", ["z"], {"b"})])
    assert report["queries"] == 3
    assert report["recall@1"] == pytest.approx(round(1 / 3, 4))
    assert report["recall@5"] == pytest.approx(round(2 / 3, 4))
    assert report["mrr@10"] == pytest.approx(round((1 + 1 / 3) / 3, 4))
    assert report["misses"] == ["q3"]


@pytest.mark.parametrize(
    ("source", "root", "expected"),
    [
        ("/data/docs/faq/admin.html", "/data/docs", "faq/admin.html"),
        ("/data/docs/faq/admin.html", "/data/docs/", "faq/admin.html"),
        ("/data/docsx/a.html", "/data/docs", None),
        ("documents/faq/a.html", "documents/", "faq/a.html"),
    ],
)
def test_sources_are_made_relative_to_the_root(source: str, root: str, expected: str | None) -> None:
    assert relative_source(source, root) == expected


def test_a_root_matches_local_paths_resolved_and_blob_paths_as_given(tmp_path, monkeypatch) -> None:
    (tmp_path / "documents").mkdir()
    monkeypatch.chdir(tmp_path)
    roots = resolve_roots("documents/")
    assert roots == (f"{tmp_path.resolve().as_posix()}/documents", "documents")
    assert relative_to_any(f"{tmp_path.resolve().as_posix()}/documents/faq/a.html", roots) == "faq/a.html"
    assert relative_to_any("documents/faq/a.html", roots) == "faq/a.html"
    assert relative_to_any("other/faq/a.html", roots) is None
    assert resolve_roots("container/") == ("container",)


def test_percentile_interpolates_between_closest_ranks() -> None:
    from ingestion.evaluation.runner import percentile

    assert percentile([5.0], 95) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([4.0, 1.0, 3.0, 2.0], 100) == 4.0
    assert percentile(list(range(101)), 95) == 95.0
    with pytest.raises(ValueError):
        percentile([], 50)
