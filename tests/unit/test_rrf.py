"""Reciprocal Rank Fusion."""

from __future__ import annotations

import pytest

from ingestion.indexing.rrf import reciprocal_rank_fusion


def test_scores_are_sums_of_reciprocal_ranks() -> None:
    fused = dict(reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=60))
    assert fused == pytest.approx({"a": 1 / 61, "b": 1 / 62 + 1 / 61, "c": 1 / 62})


def test_agreement_beats_a_single_first_place() -> None:
    # "x" is first in text and second in vector; "y" is first in vector only.
    assert [item for item, _ in reciprocal_rank_fusion([["x", "z"], ["y", "x", "z"]], k=60)] == ["x", "z", "y"]


def test_k_controls_how_much_the_top_ranks_dominate() -> None:
    rankings = [["a", "b"], ["c", "b"]]
    # k=60: two second places (2/62) beat one first place (1/61).
    assert reciprocal_rank_fusion(rankings, k=60)[0][0] == "b"
    # k=0: one first place (1/1) equals two second places (1/2 + 1/2); the tie goes to the better best rank.
    assert [item for item, _ in reciprocal_rank_fusion(rankings, k=0)] == ["a", "c", "b"]


def test_ties_are_broken_by_best_rank_then_first_seen() -> None:
    assert [item for item, _ in reciprocal_rank_fusion([["a", "b"], ["b", "a"]], k=60)] == ["a", "b"]
    assert [item for item, _ in reciprocal_rank_fusion([["a"], ["b"]], k=60)] == ["a", "b"]
    assert [item for item, _ in reciprocal_rank_fusion([["b"], ["a"]], k=60)] == ["b", "a"]


def test_a_repeated_item_counts_once_per_ranking_at_its_best_rank() -> None:
    assert dict(reciprocal_rank_fusion([["a", "b", "a"]], k=60)) == pytest.approx({"a": 1 / 61, "b": 1 / 62})


def test_empty_rankings_and_bad_k() -> None:
    assert reciprocal_rank_fusion([], k=60) == []
    assert reciprocal_rank_fusion([[], []], k=60) == []
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"]], k=-1)
