"""Fusion experiments at query time on indexes ``bench/eval_matrix.py`` already built: no ingest, no re-embedding.

    .venv/bin/python bench/fusion_lab.py [--sets django_faq,django_keywords,...] [--setting c256-o64-h1]

For every query of each set, the text ranking and the vector ranking (top 50 chunks each) are read ONCE from the
set's index through the product's own ``LocalIndex.search`` and cached in ``.cache/fusion-lab/<set>.json``. The
fusion strategies below are then replayed on those rankings in pure Python, and each is scored at document level
like ``ingestion eval`` (recall@5, MRR@10, distinct sources among the top 5 chunks). A strategy cell equals the
product's hybrid mode on the same index when the product uses that strategy (checked for the chosen default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from eval_sets import SetSpec, resolve_set  # noqa: E402

from ingestion import wiring  # noqa: E402
from ingestion.evaluation.metrics import dedupe, summarize  # noqa: E402
from ingestion.evaluation.runner import load_golden, relative_to_any, resolve_roots  # noqa: E402
from ingestion.indexing.fusion import ExactTermRule, exact_terms, hybrid_vector_weight  # noqa: E402
from ingestion.indexing.rrf import reciprocal_rank_fusion  # noqa: E402
from ingestion.models import SearchMode  # noqa: E402
from ingestion.settings import Settings  # noqa: E402

DEPTH = 50
Ranking = list[tuple[str, str, float]]  # (chunk key, relative source, score), best first


async def capture(spec: SetSpec, index_path: Path) -> list[dict[str, object]]:
    """Text and vector rankings of every query, with each query's exact terms and how many chunks match them."""
    settings = Settings.from_env(
        {"EMBEDDING_BACKEND": "local", "INDEX_BACKEND": "local", "LOCAL_INDEX_PATH": str(index_path)}
    )
    embedder = wiring.build_embedder(settings)
    index = wiring.build_index(settings, dimensions=embedder.dimensions)
    queries = load_golden(spec.golden)
    roots = resolve_roots(str(spec.corpus))
    vectors = await embedder.embed([q.query for q in queries])
    rows = []
    try:
        indexed = {relative_to_any(r.source_path, roots) async for r in index.list_documents()}
        print(f"{spec.name}: {len(indexed)} documents in {index_path}", file=sys.stderr)
        for i, query in enumerate(queries):
            ranked = {}
            for mode in (SearchMode.TEXT, SearchMode.VECTOR):
                hits = await index.search(query.query, vector=vectors[i], mode=mode, top=DEPTH)
                ranked[mode.value] = [(h.key, relative_to_any(h.source_path, roots) or "", h.score) for h in hits]
            counts = await index.count_exact(exact_terms(query.query), limit=10**6)  # type: ignore[attr-defined]
            rows.append({"id": query.id, "query": query.query, "relevant": sorted(query.relevant), **ranked,
                         "exact_terms": exact_terms(query.query), "exact_counts": counts,
                         "indexed": sorted(query.relevant) == sorted(query.relevant & indexed)})  # fmt: skip
    finally:
        await index.close()
        await embedder.close()
    return rows


def rrf(text: Ranking, vector: Ranking, weight: float, k: int = 60) -> list[str]:
    fused = reciprocal_rank_fusion([[c for c, _, _ in text], [c for c, _, _ in vector]], k=k, weights=[1.0, weight])
    return [c for c, _ in fused]


def minmax(ranking: Ranking) -> dict[str, float]:
    if not ranking:
        return {}
    scores = [s for _, _, s in ranking]
    low, high = min(scores), max(scores)
    return {c: (s - low) / (high - low) if high > low else 1.0 for c, _, s in ranking}


def convex(text: Ranking, vector: Ranking, alpha: float) -> list[str]:
    """Score-based fusion: ``alpha * minmax(vector) + (1 - alpha) * minmax(text)``, absent = 0."""
    t, v = minmax(text), minmax(vector)
    keys = dict.fromkeys([c for c, _, _ in text] + [c for c, _, _ in vector])
    return sorted(keys, key=lambda c: -(alpha * v.get(c, 0.0) + (1 - alpha) * t.get(c, 0.0)))


Strategy = Callable[[dict[str, object]], list[str]]


def strategies() -> dict[str, Strategy]:
    def fixed(weight: float) -> Strategy:
        return lambda row: rrf(row["text"], row["vector"], weight)

    def adaptive(exact_weight: float, *, need_match: bool, max_chunks: int = 50) -> Strategy:
        rule = ExactTermRule(exact_weight, max_chunks=max_chunks)

        def run(row: dict[str, object]) -> list[str]:
            counts = row["exact_counts"] if need_match else [1 for _ in row["exact_terms"]]
            return rrf(row["text"], row["vector"], hybrid_vector_weight(6.0, rule, counts))

        return run

    found: dict[str, Strategy] = {"text": lambda row: [c for c, _, _ in row["text"]]}
    found["vector"] = lambda row: [c for c, _, _ in row["vector"]]
    for weight in (1.0, 3.0, 6.0):
        found[f"rrf w{weight:g}"] = fixed(weight)
    for alpha in (0.5, 0.7):
        found[f"convex a{alpha:g}"] = lambda row, a=alpha: convex(row["text"], row["vector"], a)
    for exact_weight in (0.25, 0.5, 1.0, 2.0):
        found[f"exact w{exact_weight:g}"] = adaptive(exact_weight, need_match=True)
    found["shape-only w0.5"] = adaptive(0.5, need_match=False)
    found["any-count w0.5"] = adaptive(0.5, need_match=True, max_chunks=10**6)
    return found


def score(rows: list[dict[str, object]], strategy: Strategy) -> dict[str, float]:
    rankings, distinct = [], []
    for row in rows:
        source = {c: s for c, s, _ in row["text"] + row["vector"]}
        chunks = strategy(row)
        rankings.append((row["id"], dedupe([source[c] for c in chunks if source[c]])[:10], set(row["relevant"])))
        distinct.append(len({source[c] for c in chunks[:5]}))
    report = summarize(rankings)
    return {"recall@5": report["recall@5"], "mrr@10": report["mrr@10"], "distinct@5": sum(distinct) / len(distinct)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="debian_faq,django_faq,sqlite_faq,latex_packages,django_keywords,"
                        "sqlite_keywords")  # fmt: skip
    parser.add_argument("--setting", default="c256-o64-h1", help="which eval_matrix index of each set")
    parser.add_argument("--work", type=Path, default=REPO / ".cache/eval-matrix")
    parser.add_argument("--golden", type=Path, default=REPO / ".cache/golden/shared", help="golden files first here")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache/fusion-lab")
    parser.add_argument("--fresh", action="store_true", help="recapture the rankings")
    parser.add_argument(
        "--only-indexed", action="store_true", help="score only queries whose relevant documents are all indexed"
    )
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    table: dict[str, dict[str, dict[str, float]]] = {}
    for name in names:
        spec = resolve_set(name, work=args.work, golden_dir=args.golden)
        cached = args.cache / f"{name}.json"
        if args.fresh or not cached.exists():
            rows = await capture(spec, args.work / spec.corpus_set / f"{args.setting}.sqlite")
            cached.write_text(json.dumps(rows))
        rows = json.loads(cached.read_text())
        if args.only_indexed:
            rows = [row for row in rows if row["indexed"]]
        exact = sum(1 for r in rows if ExactTermRule(1.0).applies(r["exact_counts"]))
        print(f"{name}: {len(rows)} queries, {exact} with a matched exact term", file=sys.stderr)
        table[name] = {label: score(rows, fn) for label, fn in strategies().items()}
    for metric in ("recall@5", "mrr@10", "distinct@5"):
        print(f"\n{metric}")
        print(f"{'strategy':<18}" + "".join(f"{n[:15]:>16}" for n in names))
        for label in strategies():
            print(f"{label:<18}" + "".join(f"{table[n][label][metric]:>16.3f}" for n in names))


if __name__ == "__main__":
    sqlite3.enable_callback_tracebacks(True)
    asyncio.run(main())
