"""What an ACL change costs: a first ingest, an unchanged re-run, and a re-run after every document's ACL changed.

    python bench/acl_update.py [--corpus DIR] [--limit 300] [--embedder hash|local]

Copies the first ``--limit`` HTML pages of the SQLite documentation (default: $CORPORA_DIR/html/sqlite or
.cache/corpora/html/sqlite, see ../shared/corpora/fetch.sh) into a temporary folder with a ``NAME.acl.json`` sidecar
(``groups: [g1]``) beside each page, and ingests them into a fresh local index. Then it re-runs unchanged, and again
after rewriting every sidecar to ``groups: [g2]`` (an ACL-only change: each document's chunks get their ACL fields
rewritten, nothing is cracked or embedded). Before ACLs were part of "unchanged", such a change either went unseen or
needed the first column's full re-ingest. Prints the three runs side by side; no assertion.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ingestion import wiring  # noqa: E402
from ingestion.acl import Principal  # noqa: E402
from ingestion.models import SearchMode  # noqa: E402
from ingestion.settings import Settings  # noqa: E402


def default_corpus() -> Path:
    return Path(os.environ.get("CORPORA_DIR", REPO / ".cache" / "corpora")) / "html" / "sqlite"


def stage(corpus: Path, limit: int, into: Path) -> int:
    pages = sorted(p for p in corpus.rglob("*.html") if p.is_file() and not p.is_symlink())[:limit]
    if not pages:
        raise SystemExit(f"no HTML pages under {corpus}: run `make corpora` or pass --corpus")
    for page in pages:
        target = into / page.relative_to(corpus)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, target)
        target.with_name(target.name + ".acl.json").write_text(json.dumps({"groups": ["g1"]}))
    return len(pages)


async def ingest(settings: Settings, docs: Path) -> dict[str, object]:
    pipeline = wiring.build_pipeline(settings)
    await pipeline.index.ensure()
    started = time.perf_counter()
    try:
        result = await pipeline.run(wiring.build_folder_source(docs))
    finally:
        await pipeline.close()
    return {**result.as_dict(), "wall": time.perf_counter() - started}


async def visible(settings: Settings, group: str) -> int:
    embedder = wiring.build_embedder(settings)
    index = wiring.build_index(settings, dimensions=embedder.dimensions)
    try:
        hits = await index.search("sqlite", mode=SearchMode.TEXT, top=50, principal=Principal.of(None, [group]))
    finally:
        await index.close()
    return len(hits)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=default_corpus())
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--embedder", choices=["hash", "local"], default="hash")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="acl-bench-") as temp:
        docs = Path(temp) / "docs"
        count = stage(args.corpus, args.limit, docs)
        os.environ.update(EMBEDDING_BACKEND=args.embedder, INDEX_BACKEND="local", ACL_DEFAULT="public")
        os.environ["LOCAL_INDEX_PATH"] = str(Path(temp) / "index.sqlite")
        settings = Settings.from_env()
        runs = {"first ingest": await ingest(settings, docs), "unchanged": await ingest(settings, docs)}
        for sidecar in docs.rglob("*.acl.json"):
            sidecar.write_text(json.dumps({"groups": ["g2"]}))
        runs["every ACL changed"] = await ingest(settings, docs)
        seen = {group: await visible(settings, group) for group in ("g1", "g2")}
    print(f"{count} pages of {args.corpus}, {args.embedder} embedder, local index\n")
    print(f"{'':<20}" + "".join(f"{name:>20}" for name in runs))
    for row in ("added", "updated", "unchanged", "failed", "chunks", "tokens_embedded"):
        print(f"{row:<20}" + "".join(f"{run[row]:>20}" for run in runs.values()))
    print(f"{'seconds':<20}" + "".join(f"{run['wall']:>20.2f}" for run in runs.values()))
    print(f"{'documents/s':<20}" + "".join(f"{count / run['wall']:>20.0f}" for run in runs.values()))
    print(f"\nafter the change, a text query for 'sqlite' (top 50): g1 sees {seen['g1']}, g2 sees {seen['g2']}")


if __name__ == "__main__":
    asyncio.run(main())
