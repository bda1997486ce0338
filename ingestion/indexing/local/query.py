"""Query helpers of the local index: user text -> safe FTS5 query, prefix -> range bound, exact cosine k-NN.

Nothing here touches SQLite; ``index.py`` feeds them rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

MAX_QUERY_TERMS = 64
_WORD = re.compile(r"\w+")
_MAX_CHAR = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def fts_query(text: str) -> str | None:
    """User text as an FTS5 query: each distinct word double-quoted (a phrase of one token), OR-ed together.

    Quoting makes every FTS5 operator (``AND OR NOT NEAR``, ``* ^ : - + ( ) "``) a plain word or a separator, so no
    input can raise a syntax error. None when the text has no words (nothing can match).
    """
    terms: list[str] = []
    seen: set[str] = set()
    for word in _WORD.findall(text):
        if word.casefold() not in seen:
            seen.add(word.casefold())
            terms.append(word)
        if len(terms) == MAX_QUERY_TERMS:
            break
    if not terms:
        return None
    return " OR ".join(f'"{term}"' for term in terms)


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix``; None when there is none.

    ``value >= prefix AND value < bound`` then selects exactly the values starting with ``prefix`` under SQLite's
    BINARY collation (UTF-8 byte order = code point order), with no LIKE wildcards to escape.
    """
    stripped = prefix.rstrip(chr(_MAX_CHAR))
    if not stripped:
        return None
    following = ord(stripped[-1]) + 1
    if following in _SURROGATES:
        following = _SURROGATES.stop
    return stripped[:-1] + chr(following)


@dataclass(frozen=True)
class VectorMatrix:
    """Every chunk vector of one index generation, as unit rows, for exact cosine search in numpy.

    ``rids`` are the chunks' row ids and ``paths`` their source paths (for the source filter), row for row.
    """

    generation: int
    rids: np.ndarray
    unit: np.ndarray
    paths: np.ndarray

    @classmethod
    def load(
        cls, rows: Iterable[tuple[int, str, bytes]], *, count: int, dimensions: int, generation: int
    ) -> VectorMatrix:
        """Fill one preallocated float32 matrix from ``count`` rows (peak memory: the matrix plus one row)."""
        unit = np.empty((count, dimensions), dtype=np.float32)
        rids = np.empty(count, dtype=np.int64)
        paths = np.empty(count, dtype=object)
        filled = 0
        for rid, path, blob in rows:
            unit[filled] = np.frombuffer(blob, dtype="<f4")
            rids[filled] = rid
            paths[filled] = path
            filled += 1
        unit, rids, paths = unit[:filled], rids[:filled], paths[:filled]
        norms = np.sqrt(np.einsum("ij,ij->i", unit, unit))
        norms[norms == 0] = 1.0
        unit /= norms[:, None]
        return cls(generation=generation, rids=rids, unit=unit, paths=paths)

    def nearest(
        self, query: np.ndarray, n: int, *, source_path: str | None = None, allowed: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """The ``n`` rows most cosine-similar to ``query`` as ``(rid, similarity)``, best first; only rows of
        ``source_path`` and only row ids in ``allowed`` (when given)."""
        rows = np.arange(len(self.rids)) if source_path is None else np.flatnonzero(self.paths == source_path)
        if allowed is not None:
            rows = rows[np.isin(self.rids[rows], np.asarray(allowed, dtype=np.int64))]
        if len(rows) == 0 or n <= 0:
            return []
        norm = float(np.linalg.norm(query))
        unit_query = (query / norm if norm else query).astype(np.float32)
        filtered = source_path is not None or allowed is not None
        scores = self.unit[rows] @ unit_query if filtered else self.unit @ unit_query
        if n < len(scores):
            best = np.argpartition(-scores, n - 1)[:n]
        else:
            best = np.arange(len(scores))
        best = best[np.lexsort((self.rids[rows[best]], -scores[best]))]
        return [(int(self.rids[rows[i]]), float(scores[i])) for i in best]
