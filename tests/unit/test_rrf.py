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


def test_a_weight_multiplies_one_rankings_contribution() -> None:
    rankings = [["t", "v"], ["v", "t"]]
    fused = dict(reciprocal_rank_fusion(rankings, k=60, weights=[1.0, 3.0]))
    assert fused == pytest.approx({"t": 1 / 61 + 3 / 62, "v": 1 / 62 + 3 / 61})
    # Equal weights: a tie, broken by the first seen; a heavier second ranking wins it.
    assert reciprocal_rank_fusion(rankings, k=60)[0][0] == "t"
    assert reciprocal_rank_fusion(rankings, k=60, weights=[1.0, 1.5])[0][0] == "v"
    # Against a ranking weighted 6, a text first place (1/61) is worth about 11 places near the top: it lifts the
    # 10th vector hit above the 1st (6/70 + 1/61 > 6/61), not the 15th (6/75 + 1/61 < 6/61).
    vector = [f"v{rank}" for rank in range(1, 16)]
    assert reciprocal_rank_fusion([["v10"], vector], k=60, weights=[1.0, 6.0])[0][0] == "v10"
    assert reciprocal_rank_fusion([["v15"], vector], k=60, weights=[1.0, 6.0])[0][0] == "v1"


@pytest.mark.parametrize("weights", [[1.0], [1.0, 0.0], [1.0, -2.0], [1.0, float("nan")]])
def test_bad_weights_are_refused(weights: list[float]) -> None:
    with pytest.raises(ValueError, match="weight"):
        reciprocal_rank_fusion([["a"], ["b"]], k=60, weights=weights)
