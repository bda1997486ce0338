"""A reduced document pool per corpus, for fusion experiments when the full corpus cannot be embedded in time.

    .venv/bin/python bench/eval_pool.py --corpus django_faq --sets django_faq,django_keywords [--new-kb 2500]

The pool is: every page the full index ``<work>/<corpus>/c256-o64-h1.sqlite`` already holds (a partial
``eval_matrix.py`` run; their vectors are borrowed, not recomputed), every page relevant to the FAQ set, and the
relevant pages of exact-term questions taken in a seeded random order while the pages not yet embedded stay within
``--new-kb``. A question is kept when all its relevant pages are in the pool. The pool is staged under
``<pool>/<corpus>/corpus``, ingested into ``<pool>/<corpus>/c256-o64-h1.sqlite`` with the local embedder (256/64,
headings on: the defaults), and each kept set is written to ``<pool>/golden/<set>.jsonl``; ``fusion_lab.py --work
<pool> --golden <pool>/golden`` then measures it. Figures on a reduced pool have fewer distractors than the full
corpus (higher recall for every mode): compare modes and strategies with each other, not with full-corpus figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from eval_matrix import Setting, ingest, settings_for  # noqa: E402
from eval_sets import resolve_set  # noqa: E402

from ingestion import wiring  # noqa: E402
from ingestion.evaluation.runner import relative_to_any, resolve_roots  # noqa: E402

SETTING = Setting(256, 64, True)


async def indexed_pages(index_path: Path, corpus: Path, *, exists: bool) -> set[str]:
    if not exists:
        return set()
    settings = settings_for(SETTING, index_path)
    index = wiring.build_index(settings, dimensions=384)
    roots = resolve_roots(str(corpus))
    try:
        return {p for r in [x async for x in index.list_documents()] if (p := relative_to_any(r.source_path, roots))}
    finally:
        await index.close()


def choose(rows: dict[str, list[dict]], pool: set[str], source: Path, budget: int, seed: int) -> set[str]:
    """Grow ``pool`` with the relevant pages of the sets' questions (FAQ sets first, whole) within ``budget`` bytes."""
    spent = 0
    for name, questions in rows.items():
        order = list(questions)
        if "keywords" in name:
            random.Random(seed).shuffle(order)
        for row in order:
            new = [p for p in row["relevant"] if p not in pool]
            size = sum((source / p).stat().st_size for p in new)
            if "keywords" in name and spent + size > budget:
                continue
            pool.update(new)
            spent += size
    return pool


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, help="the set whose corpus is pooled (django_faq, sqlite_faq)")
    parser.add_argument("--sets", required=True, help="the sets asked against it")
    parser.add_argument("--work", type=Path, default=REPO / ".cache/eval-matrix", help="the full (partial) indexes")
    parser.add_argument("--pool", type=Path, default=REPO / ".cache/eval-pool")
    parser.add_argument("--new-kb", type=int, default=2500, help="HTML not yet embedded that the pool may add")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    source = args.work / args.corpus / "corpus"
    full_index = args.work / args.corpus / f"{SETTING.key}.sqlite"
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    rows = {n: [json.loads(line) for line in resolve_set(n, work=args.work).golden.read_text().splitlines()]
            for n in names}  # fmt: skip
    done = await indexed_pages(full_index, source, exists=full_index.exists())
    pool = choose(rows, done, source, args.new_kb * 1024, args.seed)
    staged = args.pool / args.corpus / "corpus"
    if staged.exists():
        shutil.rmtree(staged)
    for page in sorted(pool):
        (staged / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / page, staged / page)
    (args.pool / "golden").mkdir(parents=True, exist_ok=True)
    for name, questions in rows.items():
        kept = [row for row in questions if set(row["relevant"]) <= pool]
        (args.pool / "golden" / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
        print(f"{name}: {len(kept)} of {len(questions)} questions kept", file=sys.stderr)
    print(f"{args.corpus}: {len(pool)} pages pooled", file=sys.stderr)
    index_path = args.pool / args.corpus / f"{SETTING.key}.sqlite"
    run = await ingest(settings_for(SETTING, index_path), staged, [settings_for(SETTING, full_index)])
    print(json.dumps(run), file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
