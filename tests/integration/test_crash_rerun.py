"""A run killed with SIGKILL part-way, then re-run, converges to exactly the chunks of a clean run."""

from __future__ import annotations

import asyncio
import os
import random
import signal
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


async def kill_part_way(child: subprocess.Popen[bytes], db: Path, *, at: int) -> int:
    """SIGKILL ``child`` once ``at`` documents are indexed; return how many were (0 if it ended by itself first)."""
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and child.poll() is None:
        done = await indexed_documents(db)
        if done >= at:
            child.kill()
            break
        await asyncio.sleep(0.02)
    if child.poll() is None:
        child.kill()
    child.wait(timeout=30)
    return done


@pytest.mark.slow
async def test_killed_run_then_rerun_converges_to_a_clean_run(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    paths = make_corpus(root, 400)
    killed_db, clean_db = tmp_path / "killed.sqlite", tmp_path / "clean.sqlite"

    log = tmp_path / "child.log"
    with log.open("wb") as output:
        child = subprocess.Popen(
            ingest_cmd(root), env=env_for(killed_db), cwd=REPO, stdout=subprocess.DEVNULL, stderr=output
        )
        done_at_kill = await kill_part_way(child, killed_db, at=40)
    # A child that died by itself (at start or later) or finished before the kill is a failure, never a skip: the
    # test exists to prove what a kill part-way leaves behind.
    assert child.returncode == -signal.SIGKILL, f"the run ended by itself ({child.returncode}): {log.read_text()}"
    assert 0 < done_at_kill < len(paths), f"not killed part-way: {done_at_kill} documents indexed at the kill"

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
