"""Run a golden set against the configured index: embed each query once, search, map hits to paths relative to root."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ingestion.acl import Principal
from ingestion.embedding.base import Embedder
from ingestion.errors import ConfigurationError
from ingestion.evaluation.metrics import dedupe, summarize
from ingestion.indexing.base import Index
from ingestion.models import SearchMode

# Chunks fetched per query (``max(MIN_CHUNKS, CHUNKS_PER_DOCUMENT * top)``) so that ``top`` distinct documents
# remain after several chunks of one source collapse into one.
CHUNKS_PER_DOCUMENT = 5
MIN_CHUNKS = 50


@dataclass(frozen=True)
class GoldenQuery:
    id: str
    query: str
    relevant: frozenset[str]


def load_golden(path: Path) -> list[GoldenQuery]:
    """One query per JSON line ``{"id", "query", "relevant": [paths]}``; ConfigurationError naming ``path:line``."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigurationError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the golden set ({exc.strerror})") from None
    queries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            queries.append(_golden_query(line, f"{path}:{number}"))
    if not queries:
        raise ConfigurationError(f"{path}: no golden queries")
    return queries


def _golden_query(line: str, where: str) -> GoldenQuery:
    try:
        row = json.loads(line)
    except (ValueError, RecursionError):
        raise ConfigurationError(f"{where}: not a golden line (not JSON)") from None
    if not isinstance(row, dict):
        raise ConfigurationError(f"{where}: not a golden line (not a JSON object)")
    ident, query, relevant = row.get("id"), row.get("query"), row.get("relevant")
    if not isinstance(ident, str | int) or isinstance(ident, bool) or not isinstance(query, str) or not query.strip():
        raise ConfigurationError(f"{where}: not a golden line (needs an 'id' and a non-empty 'query' string)")
    if not isinstance(relevant, list) or not all(isinstance(item, str) for item in relevant):
        raise ConfigurationError(f"{where}: not a golden line ('relevant' must be a list of paths)")
    if not relevant:
        raise ConfigurationError(f"{where}: 'relevant' is empty")
    return GoldenQuery(str(ident), query, frozenset(relevant))


def relative_source(source_path: str, root: str) -> str | None:
    """``source_path`` relative to ``root`` (a folder path, or ``container/`` for blobs); None when outside it."""
    prefix = root.rstrip("/") + "/"
    if not source_path.startswith(prefix):
        return None
    return str(PurePosixPath(source_path[len(prefix) :]))


def resolve_roots(root: str) -> tuple[str, ...]:
    """The prefixes a golden ``--root`` may match in source paths.

    Local folders are indexed by absolute resolved POSIX path, so an existing folder is resolved the same way; blobs
    are indexed as ``<container>/<name>``, so the text as given (``container/``) is always tried too. A blob path
    never starts with ``/`` and a local one always does, so the two cannot both match one hit.
    """
    given = PurePosixPath(root).as_posix()
    path = Path(root)
    if path.exists():
        return (path.resolve().as_posix(), given)
    return (given,)


def relative_to_any(source_path: str, roots: Sequence[str]) -> str | None:
    for root in roots:
        relative = relative_source(source_path, root)
        if relative is not None:
            return relative
    return None


async def evaluate(
    queries: list[GoldenQuery],
    *,
    index: Index,
    embedder: Embedder,
    roots: Sequence[str],
    mode: SearchMode,
    top: int,
    principal: Principal | None = None,
) -> dict[str, object]:
    """Search each query (as ``principal`` when given: trimmed), keep its first ``top`` distinct documents under one
    of ``roots``, and summarise.

    Metrics at a k above ``top`` see only ``top`` documents. Besides ``summarize``'s metrics the report has
    ``distinct@5`` (distinct sources among the first 5 chunks, averaged: 1.0 means five chunks of one page) and
    ``search_ms_p50`` / ``search_ms_p95`` (the index's search call per query, without embedding the query).
    """
    vectors = None if mode is SearchMode.TEXT else await embedder.embed([q.query for q in queries])
    rankings, distinct, millis = [], [], []
    for i, query in enumerate(queries):
        started = time.perf_counter()
        hits = await index.search(
            query.query,
            vector=None if vectors is None else vectors[i],
            mode=mode,
            top=max(MIN_CHUNKS, CHUNKS_PER_DOCUMENT * top),
            principal=principal,
        )
        millis.append((time.perf_counter() - started) * 1000)
        ranked = dedupe([rel for hit in hits if (rel := relative_to_any(hit.source_path, roots)) is not None])
        rankings.append((query.id, ranked[:top], query.relevant))
        distinct.append(len({hit.source_path for hit in hits[:5]}))
    return {
        "mode": mode.value,
        "top": top,
        **summarize(rankings),
        "distinct@5": round(sum(distinct) / len(distinct), 3),
        "search_ms_p50": round(percentile(millis, 50), 1),
        "search_ms_p95": round(percentile(millis, 95), 1),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of nothing")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
