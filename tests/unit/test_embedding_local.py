"""The real all-MiniLM-L6-v2 int8 ONNX model, loaded from site-packages; no network, no mocks."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ingestion.embedding.local import LocalEmbedder, default_model_path
from ingestion.errors import BadInputError, ConfigurationError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder(threads=2)


async def cosines(embedder: LocalEmbedder, query: str, docs: list[str]) -> np.ndarray:
    vectors = await embedder.embed([query, *docs])
    return vectors[1:] @ vectors[0]


def test_identity_matches_the_model() -> None:
    embedder = LocalEmbedder()
    assert embedder.model_id == "all-MiniLM-L6-v2-onnx-int8"
    assert (embedder.dimensions, embedder.max_input_tokens) == (384, 256)
    assert "site-packages" in default_model_path().parts


def test_loads_lazily_and_embeds_without_any_network() -> None:
    """In a fresh process that refuses every socket: importing loads nothing, the first embed() loads and runs."""
    code = textwrap.dedent(
        """
        import asyncio, sys

        def refuse_network(event, args):
            if event in ("socket.connect", "socket.getaddrinfo", "socket.bind", "urllib.Request"):
                raise RuntimeError(f"network used: {event} {args}")

        sys.addaudithook(refuse_network)
        from ingestion.embedding.local import LocalEmbedder
        assert "onnxruntime" not in sys.modules and "tokenizers" not in sys.modules, "loaded at import"
        vectors = asyncio.run(LocalEmbedder().embed(["offline embedding"]))
        assert "onnxruntime" in sys.modules
        sys.stdout.write(f"{vectors.shape[0]}x{vectors.shape[1]}")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1x384"


async def test_vectors_are_unit_length_float32(embedder: LocalEmbedder) -> None:
    vectors = await embedder.embed(["The quick brown fox.", "", "SQLite is a C-language library."])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.all(np.isfinite(vectors))


async def test_empty_input_returns_empty_array_without_loading_anything() -> None:
    never_loads = LocalEmbedder(model_path=Path("/nonexistent/model.onnx"))
    vectors = await never_loads.embed([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


async def test_batches_keep_input_order_and_match_one_by_one(embedder: LocalEmbedder) -> None:
    texts = [
        "A long sentence about the write-ahead log, checkpoints and how readers do not block writers in SQLite.",
        "hi",
        "Birds migrate south in autumn.",
        "x",
        "Password reset instructions for your account are sent by e-mail within five minutes of the request.",
        "Tables",
        "Birds migrate south in autumn.",
        "An online backup copies a live database page by page while other connections keep using it.",
    ]
    small_batches = LocalEmbedder(batch_size=3, threads=2)
    together = await small_batches.embed(texts)
    alone = np.vstack([await embedder.embed([text]) for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert np.array_equal(together[2], together[6])
    assert float(together[0] @ together[1]) < 0.9  # distinct texts really got distinct rows


async def test_paraphrase_is_closer_than_an_unrelated_sentence(embedder: LocalEmbedder) -> None:
    related, unrelated = await cosines(
        embedder,
        "How do I reset my password?",
        ["Steps to change your account password", "The migration of birds in autumn"],
    )
    assert related > 0.5
    assert related - unrelated > 0.3


async def test_each_query_retrieves_its_own_document(embedder: LocalEmbedder) -> None:
    docs = [
        "To restore a database from a backup, stop the server and copy the backup file over the data directory.",
        "Our office is closed on public holidays; the support line answers again the next working day.",
        "Invoices are payable within thirty days; late payments incur a two percent monthly fee.",
        "The cafeteria serves vegetarian lunch options every weekday between noon and two.",
        "Employees accrue twenty-five days of paid annual leave, pro rata for part-time contracts.",
        "Python lists are mutable sequences; tuples are their immutable counterpart.",
    ]
    queries = {
        "how can I recover my data from a backup copy?": 0,
        "when do I have to pay a bill and what happens if I pay late?": 2,
        "how many vacation days do staff get each year?": 4,
    }
    doc_vectors = await embedder.embed(docs)
    query_vectors = await embedder.embed(list(queries))
    scores = query_vectors @ doc_vectors.T
    for (query, expected), row in zip(queries.items(), scores, strict=True):
        ranked = np.argsort(-row)
        assert ranked[0] == expected, f"{query!r} ranked {docs[ranked[0]]!r} first"
        assert row[ranked[0]] - row[ranked[1]] > 0.05


async def test_text_past_256_word_pieces_is_truncated(embedder: LocalEmbedder) -> None:
    head = " ".join(f"word{i}" for i in range(300))  # far more than 256 word pieces
    tail_a, tail_b = " about databases and indexes", " about birds and migration"
    texts = [head + tail_a, head + tail_b, "notes" + tail_a, "notes" + tail_b]
    long_a, long_b, short_a, short_b = await embedder.embed(texts)
    np.testing.assert_allclose(long_a, long_b, atol=1e-6)
    assert float(short_a @ short_b) < 0.95  # the same tails do change a vector when they fit


async def test_concurrent_first_calls_agree_and_close_reloads() -> None:
    fresh = LocalEmbedder(threads=1)
    texts = ["alpha centauri", "database backup", "password reset"]
    results = await asyncio.gather(*(fresh.embed(texts) for _ in range(4)))
    for result in results[1:]:
        np.testing.assert_allclose(result, results[0], atol=1e-6)
    await fresh.close()
    np.testing.assert_allclose(await fresh.embed(texts), results[0], atol=1e-6)


async def test_missing_model_file_is_a_configuration_error(tmp_path: Path) -> None:
    missing = tmp_path / "model.onnx"
    with pytest.raises(ConfigurationError, match="not found"):
        await LocalEmbedder(model_path=missing).embed(["text"])


async def test_model_file_with_wrong_hash_is_a_configuration_error(tmp_path: Path) -> None:
    tampered = tmp_path / "model.onnx"
    tampered.write_bytes(default_model_path().read_bytes()[:-1] + b"\0")
    with pytest.raises(ConfigurationError, match="sha256") as caught:
        await LocalEmbedder(model_path=tampered).embed(["text"])
    assert "\n" not in str(caught.value)


async def test_non_string_input_is_bad_input(embedder: LocalEmbedder) -> None:
    with pytest.raises(BadInputError, match="input 1"):
        await embedder.embed(["fine", b"bytes"])  # type: ignore[list-item]


def test_rejects_invalid_construction_arguments() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        LocalEmbedder(batch_size=0)
    with pytest.raises(ValueError, match="threads"):
        LocalEmbedder(threads=0)
