"""Document-level retrieval metrics with binary relevance, pure functions.

For one query, ``ranked`` is the list of distinct documents in rank order (several chunks of one source count once, at
the rank of the first) and ``relevant`` the set of documents that answer it.

- ``recall@k``: the fraction of the relevant documents found in the first k; averaged over queries. With one relevant
  document per query (the shared golden sets) it is the hit rate.
- ``mrr@k``: 1 / rank of the first relevant document within the first k, else 0; averaged.
- ``ndcg@k``: DCG with gain 1 for a relevant document at rank r discounted by ``log2(r + 1)``, divided by the DCG of an
  ideal ranking (all relevant documents first); averaged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence, Set


def recall_at(ranked: Sequence[str], relevant: Set[str], k: int) -> float:
    if not relevant:
        raise ValueError("a golden query needs at least one relevant document")
    return len(set(ranked[:k]) & relevant) / len(relevant)


def mrr_at(ranked: Sequence[str], relevant: Set[str], k: int) -> float:
    for rank, doc in enumerate(ranked[:k], start=1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranked: Sequence[str], relevant: Set[str], k: int) -> float:
    dcg = sum(1.0 / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], start=1) if doc in relevant)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return dcg / ideal if ideal else 0.0


def dedupe(sources: Sequence[str]) -> list[str]:
    """Distinct sources in order of first appearance (document level: a source counts at its first chunk's rank)."""
    return list(dict.fromkeys(sources))


def summarize(rankings: Sequence[tuple[str, Sequence[str], Set[str]]]) -> dict[str, object]:
    """Aggregate ``(query id, ranked docs, relevant docs)`` triples into the report's numbers."""
    n = len(rankings)
    if n == 0:
        raise ValueError("no golden queries")

    def mean(values: list[float]) -> float:
        return round(sum(values) / n, 4)

    return {
        "queries": n,
        "recall@1": mean([recall_at(r, rel, 1) for _, r, rel in rankings]),
        "recall@5": mean([recall_at(r, rel, 5) for _, r, rel in rankings]),
        "recall@10": mean([recall_at(r, rel, 10) for _, r, rel in rankings]),
        "mrr@10": mean([mrr_at(r, rel, 10) for _, r, rel in rankings]),
        "ndcg@10": mean([ndcg_at(r, rel, 10) for _, r, rel in rankings]),
        "misses": [qid for qid, r, rel in rankings if not set(r[:10]) & rel],
    }
