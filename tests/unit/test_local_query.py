"""Query helpers of the local index: FTS5 query building, prefix bounds, exact cosine k-NN."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from ingestion.indexing.local.query import MAX_QUERY_TERMS, VectorMatrix, fts_query, prefix_upper_bound


@pytest.fixture
def fts() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE docs USING fts5(body)")
    conn.executemany(
        "INSERT INTO docs (rowid, body) VALUES (?, ?)",
        [(1, "the quick brown fox"), (2, "NEAR the river, not AND or OR"), (3, "e-mail: user_name (draft)")],
    )
    return conn


def matches(conn: sqlite3.Connection, text: str) -> set[int]:
    query = fts_query(text)
    if query is None:
        return set()
    return {row[0] for row in conn.execute("SELECT rowid FROM docs WHERE docs MATCH ?", (query,))}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fox", {1}),
        ("FOX brown", {1}),
        ('"fox', {1}),
        ("fox*", {1}),
        ("NEAR(fox river)", {1, 2}),
        ("NOT", {2}),
        ("AND OR", {2}),
        ("-fox", {1}),
        ("body:fox", {1}),
        ("e-mail", {3}),
        ("user_name", {3}),
        ("(draft)", {3}),
        ("^'\"*:()-+{}[]", set()),
        ("", set()),
    ],
)
def test_any_text_is_a_safe_or_of_words(fts: sqlite3.Connection, text: str, expected: set[int]) -> None:
    assert matches(fts, text) == expected


def test_query_terms_are_deduplicated_and_capped() -> None:
    assert fts_query("Fox fox FOX dog") == '"Fox" OR "dog"'
    many = " ".join(f"w{n}" for n in range(MAX_QUERY_TERMS + 10))
    assert fts_query(many).count(" OR ") == MAX_QUERY_TERMS - 1


@pytest.mark.parametrize(
    ("prefix", "bound"),
    [
        ("", None),
        ("abc", "abd"),
        ("a%", "a&"),
        ("a_", "a`"),
        ("a\U0010ffff", "b"),
        ("\U0010ffff", None),
        ("\ud7ff", "\ue000"),
    ],
)
def test_prefix_upper_bound(prefix: str, bound: str | None) -> None:
    assert prefix_upper_bound(prefix) == bound


def test_prefix_range_selects_exactly_the_prefixed_values() -> None:
    values = ["a", "a%", "a%b", "a_b", "aXb", "ab", "a\U0010ffff", "a\U0010ffffz", "b", "\U0010ffff", "é", "éa"]
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (v TEXT)")
    conn.executemany("INSERT INTO t VALUES (?)", [(v,) for v in values])
    for prefix in ["", "a", "a%", "a_", "a\U0010ffff", "\U0010ffff", "é", "zz"]:
        bound = prefix_upper_bound(prefix)
        sql, params = "SELECT v FROM t WHERE v >= ?", [prefix]
        if bound is not None:
            sql, params = sql + " AND v < ?", [prefix, bound]
        found = sorted(row[0] for row in conn.execute(sql, params))
        assert found == sorted(v for v in values if v.startswith(prefix)), prefix


def load(vectors: np.ndarray, paths: list[str] | None = None) -> VectorMatrix:
    paths = paths or ["/p"] * len(vectors)
    rows = [(rid + 100, paths[rid], v.astype("<f4").tobytes()) for rid, v in enumerate(vectors)]
    return VectorMatrix.load(iter(rows), count=len(rows), dimensions=vectors.shape[1], generation=7)


def test_nearest_matches_brute_force_cosine() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(2000, 32)).astype(np.float32)
    query = rng.normal(size=32).astype(np.float32)
    cosine = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
    expected = np.argsort(-cosine)[:10] + 100
    found = load(vectors).nearest(query, 10)
    assert [rid for rid, _ in found] == expected.tolist()
    np.testing.assert_allclose([s for _, s in found], np.sort(cosine)[::-1][:10], rtol=1e-5)


def test_nearest_filters_by_path_and_handles_zero_vectors() -> None:
    vectors = np.array([[1, 0], [0, 1], [0, 0], [1, 1]], dtype=np.float32)
    matrix = load(vectors, ["/a", "/b", "/a", "/b"])
    assert [rid for rid, _ in matrix.nearest(np.array([1, 0.1]), 10)] == [100, 103, 101, 102]
    assert [rid for rid, _ in matrix.nearest(np.array([1, 0.1]), 10, source_path="/b")] == [103, 101]
    assert matrix.nearest(np.array([1, 0]), 10, source_path="/none") == []
    assert [s for _, s in matrix.nearest(np.array([0, 0]), 1)] == [0.0]


def test_empty_matrix() -> None:
    matrix = VectorMatrix.load(iter([]), count=0, dimensions=3, generation=0)
    assert matrix.nearest(np.ones(3), 5) == []
