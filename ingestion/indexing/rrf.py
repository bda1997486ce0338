"""Reciprocal Rank Fusion: merge several rankings of the same items into one.

Each ranking lists item ids best first. An item's fused score is the sum over rankings of ``weight / (k + rank)``
with ``rank`` starting at 1 and ``weight`` that ranking's weight (1 unless given); an item absent from a ranking gets
nothing from it. Azure AI Search fuses hybrid queries the same way: k = 60, and each vector query's ``weight``
multiplies its contribution (the text query always weighs 1). Pure: no I/O, no numpy.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

DEFAULT_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[K]], *, k: int = DEFAULT_K, weights: Sequence[float] | None = None
) -> list[tuple[K, float]]:
    """``(item, score)`` for every item in any ranking, best first; ``weights`` are per ranking (default all 1).

    An item listed twice in one ranking counts once, at its better rank. Equal scores keep a stable, deterministic
    order: the item with the better best rank first, then the one seen first (earlier ranking, then earlier rank).
    """
    if k < 0:
        raise ValueError(f"RRF k must be >= 0, got {k}")
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings) or any(not w > 0 for w in weights):
        raise ValueError(f"RRF needs one weight > 0 per ranking, got {list(weights)} for {len(rankings)} rankings")
    scores: dict[K, float] = {}
    best_rank: dict[K, int] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        seen: set[K] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            best_rank[item] = min(best_rank.get(item, rank), rank)
    ordered = sorted(scores, key=lambda item: (-scores[item], best_rank[item]))
    return [(item, scores[item]) for item in ordered]
