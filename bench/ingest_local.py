"""Ingest throughput and memory on the embedded stack: a first ingest, then an unchanged re-ingest.

    python bench/ingest_local.py DIR [--backends hash,local] [--glob '*.html'] [--limit N]

Each phase runs in its own process (so peak RSS is that phase's own) against a fresh SQLite index, and prints
documents/s, MB/s, chunks/s, tokens embedded and peak RSS, side by side for each embedding backend. The target: the
unchanged re-ingest embeds zero tokens and takes at most 10 % of the first run's time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def stage_corpus(source: Path, pattern: str, limit: int | None, dest: Path) -> tuple[int, int]:
    """Copy matching files (regular files only, no symlinks) into ``dest``; return (files, bytes)."""
    files = sorted(p for p in source.rglob(pattern) if p.is_file() and not p.is_symlink())
    if limit:
        files = files[:limit]
    total = 0
    for path in files:
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        total += path.stat().st_size
    return len(files), total


def child(root: str) -> None:
    """Run one ingest in this process and print its counts plus peak RSS as JSON."""
    from ingestion import wiring
    from ingestion.settings import Settings

    async def go() -> dict[str, object]:
        settings = Settings.from_env()
        pipeline = wiring.build_pipeline(settings)
        await pipeline.index.ensure()
        source = wiring.build_folder_source(Path(root))
        started = time.perf_counter()
        try:
            result = await pipeline.run(source)
        finally:
            await pipeline.close()
        counts = result.as_dict()
        counts["wall"] = time.perf_counter() - started
        return counts

    counts = asyncio.run(go())
    counts["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(counts))


def run_phase(root: Path, db: Path, backend: str) -> dict[str, float]:
    env = os.environ | {"EMBEDDING_BACKEND": backend, "INDEX_BACKEND": "local", "LOCAL_INDEX_PATH": str(db)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(root)], env=env, cwd=REPO, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--backends", default="hash,local")
    parser.add_argument("--glob", default="*.html")
    parser.add_argument("--limit", type=int, default=None, help="at most this many files")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(str(args.dir))
        return
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        corpus = Path(tmp) / "corpus"
        files, size = stage_corpus(args.dir, args.glob, args.limit, corpus)
        print(f"corpus: {files} files, {size / 1e6:.1f} MB from {args.dir} ({args.glob})")
        header = (
            f"{'backend':<7} {'phase':<10} {'docs/s':>8} {'MB/s':>7} {'chunks/s':>9} "
            f"{'tokens':>9} {'seconds':>8} {'peak RSS':>9}"
        )
        print(header)
        summary = []
        for backend in args.backends.split(","):
            db = Path(tmp) / f"{backend}.sqlite"
            first = run_phase(corpus, db, backend)
            again = run_phase(corpus, db, backend)
            for phase, r in (("first", first), ("unchanged", again)):
                secs = max(r["wall"], 1e-9)
                print(
                    f"{backend:<7} {phase:<10} {r['documents'] / secs:8.1f} {size / 1e6 / secs:7.2f} "
                    f"{r['chunks'] / secs:9.1f} {r['tokens_embedded']:9d} {secs:8.2f} {r['peak_rss_mb']:7.0f}MB"
                )
            ratio = again["wall"] / max(first["wall"], 1e-9)
            summary.append(f"{backend}_rerun_ratio={ratio:.3f} {backend}_rerun_tokens={again['tokens_embedded']}")
        print(" ".join(summary))


if __name__ == "__main__":
    main()
