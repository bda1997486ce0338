"""Reciprocal Rank Fusion: merge several rankings of the same items into one.

Each ranking lists item ids best first. An item's fused score is the sum over rankings of ``1 / (k + rank)`` with
``rank`` starting at 1; an item absent from a ranking gets nothing from it. Azure AI Search fuses hybrid queries the
same way (k about 60). Pure: no I/O, no numpy.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

DEFAULT_K = 60


def reciprocal_rank_fusion(rankings: Sequence[Sequence[K]], *, k: int = DEFAULT_K) -> list[tuple[K, float]]:
    """``(item, score)`` for every item in any ranking, best first.

    An item listed twice in one ranking counts once, at its better rank. Equal scores keep a stable, deterministic
    order: the item with the better best rank first, then the one seen first (earlier ranking, then earlier rank).
    """
    if k < 0:
        raise ValueError(f"RRF k must be >= 0, got {k}")
    scores: dict[K, float] = {}
    best_rank: dict[K, int] = {}
    for ranking in rankings:
        seen: set[K] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
            best_rank[item] = min(best_rank.get(item, rank), rank)
    ordered = sorted(scores, key=lambda item: (-scores[item], best_rank[item]))
    return [(item, scores[item]) for item in ordered]
