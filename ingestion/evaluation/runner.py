"""Run a golden set against the configured index: embed each query once, search, map hits to paths relative to root."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ingestion.embedding.base import Embedder
from ingestion.errors import ConfigurationError
from ingestion.evaluation.metrics import dedupe, summarize
from ingestion.indexing.base import Index
from ingestion.models import SearchMode

# Chunks fetched per query so that ``top`` distinct documents remain after several chunks of one source collapse.
CHUNKS_PER_DOCUMENT = 5


@dataclass(frozen=True)
class GoldenQuery:
    id: str
    query: str
    relevant: frozenset[str]


def load_golden(path: Path) -> list[GoldenQuery]:
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            queries.append(GoldenQuery(str(row["id"]), str(row["query"]), frozenset(map(str, row["relevant"]))))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"{path}:{number}: not a golden line ({type(exc).__name__}: {exc})") from None
        if not queries[-1].relevant:
            raise ConfigurationError(f"{path}:{number}: 'relevant' is empty")
    if not queries:
        raise ConfigurationError(f"{path}: no golden queries")
    return queries


def relative_source(source_path: str, root: str) -> str | None:
    """``source_path`` relative to ``root`` (a folder path, or ``container/`` for blobs); None when outside it."""
    prefix = root.rstrip("/") + "/"
    if not source_path.startswith(prefix):
        return None
    return str(PurePosixPath(source_path[len(prefix) :]))


def resolve_root(root: str) -> str:
    """A local folder is resolved like the folder source does; anything else (``container/``) is taken as is."""
    path = Path(root)
    return path.resolve().as_posix() if path.exists() else root


async def evaluate(
    queries: list[GoldenQuery], *, index: Index, embedder: Embedder, root: str, mode: SearchMode, top: int
) -> dict[str, object]:
    vectors = None if mode is SearchMode.TEXT else await embedder.embed([q.query for q in queries])
    rankings = []
    for i, query in enumerate(queries):
        hits = await index.search(
            query.query,
            vector=None if vectors is None else vectors[i],
            mode=mode,
            top=max(top, 10) * CHUNKS_PER_DOCUMENT,
        )
        ranked = dedupe([rel for hit in hits if (rel := relative_source(hit.source_path, root)) is not None])
        rankings.append((query.id, ranked[: max(top, 10)], query.relevant))
    return {"mode": mode.value, **summarize(rankings)}
