"""Schema migrations on the local store: tokens embedded and wall time, field-only change vs dimension change.

    python bench/migration.py [--corpus DIR] [--limit 300]

Copies the first ``--limit`` HTML pages of the SQLite documentation (default: $CORPORA_DIR/html/sqlite or
.cache/corpora/html/sqlite, see ../shared/corpora/fetch.sh) into a temporary folder and ingests them once into
``grounding-v1`` (schema v1, as a deployment from before v3) with the hash embedder at 384 dimensions (the alias
points at it). Then, each on its own copy of that index file, a migration to schema v3 is estimated (``--dry-run``)
and run:

  (a) field-only change: v1 -> v3 (``file_type``, a scoring profile, the ACL fields ``oids`` and ``acl_hash``), same
      embedder (384): every vector is copied from the live index, so the target is 0 tokens embedded;
  (b) dimension change: v1 -> v3 with the hash embedder at 256 dimensions: every chunk is embedded again.

The hash embedder costs almost nothing per token, so wall time here is mostly reading, cracking, chunking and
writing; with a real model (b) adds the embedding time of every token, and (a) still adds none.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ingestion import wiring  # noqa: E402
from ingestion.deployment import lifecycle, migrate  # noqa: E402
from ingestion.deployment.estimate import estimate_migration, price_per_million  # noqa: E402
from ingestion.embedding.hashing import HashEmbedder  # noqa: E402
from ingestion.indexing.local.admin import LocalIndexAdmin  # noqa: E402
from ingestion.settings import Settings  # noqa: E402
from ingestion.sources.local import LocalFolderSource  # noqa: E402

ALIAS = "grounding"
TARGET_VERSION = 3
BASE_VERSION = 1


def default_corpus() -> Path:
    root = Path(os.environ.get("CORPORA_DIR", REPO / ".cache" / "corpora"))
    return root / "html" / "sqlite"


def copy_corpus(corpus: Path, limit: int, into: Path) -> int:
    pages = sorted(p for p in corpus.rglob("*.html") if p.is_file())[:limit]
    if not pages:
        raise SystemExit(f"no HTML pages under {corpus}: run `make corpora` or pass --corpus")
    into.mkdir(parents=True)
    for page in pages:
        target = into / page.relative_to(corpus)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, target)
    return len(pages)


async def build_base(settings: Settings, docs: Path) -> tuple[int, float]:
    started = time.perf_counter()
    admin = LocalIndexAdmin(settings.local_index_path, ALIAS)
    await lifecycle.apply(admin, lifecycle.SchemaConfig(dimensions=384), version=BASE_VERSION)
    await admin.close()
    pipeline = wiring.build_pipeline(settings, embedder=HashEmbedder(384))
    await pipeline.index.ensure()
    result = await pipeline.run(LocalFolderSource(docs))
    await pipeline.close()
    return result.tokens_embedded, time.perf_counter() - started


async def scenario(settings: Settings, docs: Path, dimensions: int) -> dict[str, object]:
    embedder = HashEmbedder(dimensions)
    config = lifecycle.SchemaConfig(dimensions=dimensions, retention=timedelta(hours=72))
    admin = LocalIndexAdmin(settings.local_index_path, ALIAS)
    try:
        plan = await migrate.plan_migration(admin, config, version=TARGET_VERSION)
        started = time.perf_counter()
        live = admin.open_index(plan.live) if plan.live else None
        dry = wiring.build_pipeline(settings, embedder=embedder, schema_version=TARGET_VERSION)
        estimate = await estimate_migration(
            dry,
            LocalFolderSource(docs),
            live=live,
            live_version=plan.live.version if plan.live else None,
            live_dimensions=plan.live.dimensions if plan.live else None,
            price=price_per_million("azure_openai/text-embedding-3-small", None),
        )
        await dry.index.close()
        if live is not None:
            await live.close()
        dry_seconds = time.perf_counter() - started
        started = time.perf_counter()
        result = await migrate.migrate(
            admin,
            config,
            plan,
            source=LocalFolderSource(docs),
            pipeline_for=lambda index, version, live_index: wiring.build_pipeline(
                settings, index=index, embedder=embedder, schema_version=version, reuse_from=live_index
            ),
        )
        seconds = time.perf_counter() - started
    finally:
        await admin.close()
    if not result.swapped:
        raise SystemExit(f"migration not swapped: {result.verification.problems}")
    return {
        "target": plan.target,
        "estimated tokens": estimate.tokens,
        "estimated cost (3-small)": f"${estimate.cost:.4f}",
        "dry run s": round(dry_seconds, 2),
        "tokens embedded": result.run.tokens_embedded,
        "chunks": result.verification.chunks,
        "vectors reused (estimated)": estimate.reused_chunks,
        "migration s": round(seconds, 2),
    }


async def bench(corpus: Path, limit: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-migration-") as tmp:
        work = Path(tmp)
        count = copy_corpus(corpus, limit, work / "docs")
        base = work / "base.sqlite"
        tokens, seconds = await build_base(Settings(embedding_backend="hash", local_index_path=base), work / "docs")
        print(f"{count} pages of {corpus}; base ingest into grounding-v1 (384 dims): {tokens} tokens, {seconds:.1f} s")
        rows = {}
        for label, dimensions in (("(a) field-only change, 384", 384), ("(b) dimensions 384 -> 256", 256)):
            copy = work / f"{dimensions}.sqlite"
            shutil.copyfile(base, copy)
            settings = Settings(embedding_backend="hash", local_index_path=copy)
            rows[label] = await scenario(settings, work / "docs", dimensions)
    keys = list(next(iter(rows.values())))
    width = max(len(k) for k in keys)
    print(f"\n{'':<{width}}  " + "  ".join(f"{label:>28}" for label in rows))
    for key in keys:
        print(f"{key:<{width}}  " + "  ".join(f"{row[key]!s:>28}" for row in rows.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=default_corpus())
    parser.add_argument("--limit", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(bench(args.corpus, args.limit))


if __name__ == "__main__":
    main()
