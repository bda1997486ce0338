"""A run killed with SIGKILL part-way, then re-run, converges to exactly the chunks of a clean run."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingestion.indexing.local.index import LocalIndex
from ingestion.keys import document_key

REPO = Path(__file__).resolve().parents[2]
WORDS = [
    "index",
    "chunk",
    "vector",
    "search",
    "token",
    "embed",
    "blob",
    "queue",
    "alias",
    "schema",
    "reindex",
    "backup",
    "restore",
    "quota",
]


def make_corpus(root: Path, count: int) -> list[Path]:
    rng = random.Random(7)
    paths = []
    for i in range(count):
        path = root / f"team{i % 7}" / f"doc {i:04d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        sections = [
            f"## Section {s}\n\n" + " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 160))) + "."
            for s in range(rng.randint(1, 4))
        ]
        path.write_text(f"# Document {i}\n\n" + "\n\n".join(sections) + "\n")
        paths.append(path)
    return paths


def ingest_cmd(root: Path) -> list[str]:
    return [sys.executable, "-m", "ingestion", "ingest", str(root), "--json"]


def env_for(db: Path) -> dict[str, str]:
    return os.environ | {
        "EMBEDDING_BACKEND": "hash",
        "INDEX_BACKEND": "local",
        "LOCAL_INDEX_PATH": str(db),
        "CHUNK_MAX_TOKENS": "48",
        "CHUNK_OVERLAP_TOKENS": "8",
        "MAX_CONCURRENCY": "4",
    }


async def snapshot(db: Path, paths: list[Path]) -> tuple[int, int, dict[str, tuple[int, frozenset[str]]]]:
    index = LocalIndex(db, name="grounding-v1", dimensions=384)
    try:
        stats = await index.stats()
        docs = {}
        for path in paths:
            key = document_key(str(path.resolve()))
            record = await index.get_document(key)
            assert record is not None, f"{path.name} missing"
            docs[path.name] = (record.chunk_count, frozenset((await index.get_vectors(key)).keys()))
        return stats.documents, stats.chunks, docs
    finally:
        await index.close()


async def indexed_documents(db: Path) -> int:
    if not db.exists():
        return 0
    index = LocalIndex(db, name="grounding-v1", dimensions=384)
    try:
        return (await index.stats()).documents
    except Exception:  # the schema may not be created yet by the child process
        return 0
    finally:
        await index.close()


@pytest.mark.slow
async def test_killed_run_then_rerun_converges_to_a_clean_run(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    paths = make_corpus(root, 400)
    killed_db, clean_db = tmp_path / "killed.sqlite", tmp_path / "clean.sqlite"

    child = subprocess.Popen(
        ingest_cmd(root), env=env_for(killed_db), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    done_at_kill = 0
    while time.monotonic() < deadline and child.poll() is None:
        done_at_kill = await indexed_documents(killed_db)
        if done_at_kill >= 40:
            child.kill()
            break
        await asyncio.sleep(0.02)
    child.wait(timeout=30)
    if not 0 < done_at_kill < len(paths):
        pytest.skip(f"could not kill the run part-way (documents indexed when checked: {done_at_kill})")

    rerun = subprocess.run(
        ingest_cmd(root), env=env_for(killed_db), cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    clean = subprocess.run(
        ingest_cmd(root), env=env_for(clean_db), cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert clean.returncode == 0, clean.stderr

    killed_docs, killed_chunks, killed_map = await snapshot(killed_db, paths)
    clean_docs, clean_chunks, clean_map = await snapshot(clean_db, paths)
    assert (
        (killed_docs, killed_chunks)
        == (clean_docs, clean_chunks)
        == (len(paths), sum(c for c, _ in clean_map.values()))
    )
    assert killed_map == clean_map
