"""What the exact-term rule adds to a hybrid query on the local store: the term counts, per query, p50 / p95.

    .venv/bin/python bench/exact_term_cost.py INDEX.sqlite GOLDEN.jsonl [GOLDEN.jsonl ...]

For each question, time ``LocalIndex.hybrid_vector_weight`` (find the exact terms, count each as an FTS5 phrase,
pick the weight) and print the milliseconds side by side with how many questions had a term and how many fired.
No embedding, no vector search: only the added work.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ingestion import wiring  # noqa: E402
from ingestion.evaluation.runner import percentile  # noqa: E402
from ingestion.indexing.fusion import exact_terms  # noqa: E402
from ingestion.settings import Settings  # noqa: E402


async def main(index_path: str, goldens: dict[str, list[str]]) -> None:
    settings = Settings.from_env({"EMBEDDING_BACKEND": "hash", "LOCAL_INDEX_PATH": index_path})
    index = wiring.build_index(settings, dimensions=384)
    try:
        await index.stats()
        for name, queries in goldens.items():
            millis, fired = [], 0
            for query in queries:
                started = time.perf_counter()
                weight = await index.hybrid_vector_weight(query)  # type: ignore[attr-defined]
                millis.append((time.perf_counter() - started) * 1000)
                fired += weight != index.vector_weight  # type: ignore[attr-defined]
            with_terms = sum(1 for q in queries if exact_terms(q))
            print(f"{name:<18} queries {len(queries):>4}  with terms {with_terms:>4}  fired {fired:>4}  "
                  f"ms p50 {percentile(millis, 50):6.2f}  p95 {percentile(millis, 95):6.2f}")  # fmt: skip
    finally:
        await index.close()


if __name__ == "__main__":
    sets = {
        Path(golden).stem: [json.loads(line)["query"] for line in Path(golden).read_text().splitlines() if line.strip()]
        for golden in sys.argv[2:]
    }
    asyncio.run(main(sys.argv[1], sets))
