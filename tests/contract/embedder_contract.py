"""The ``Embedder`` contract (ingestion/embedding/base.py) as a reusable test mixin.

A test class inherits ``EmbedderContract`` and supplies one async fixture, ``embedder``, yielding a ready
implementation (and closing it afterwards). Every test below then runs against it; the file name does not start
with ``test_`` so pytest only collects the subclasses. ``TOLERANCE`` is how far two computations of one vector may
differ (a model run in batches pads its inputs, which moves the last float bits).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ingestion.embedding.base import Embedder

TOLERANCE = 1e-5
TEXTS = [
    "How do I restore a backup of the database?",
    "The storage account uses geo-redundant storage.",
    "Zürich, 日本語 and emoji 🙂 are text too.",
    "   leading and trailing spaces   ",
    "x",
]


def assert_vectors(vectors: Any, count: int, dimensions: int) -> None:
    assert isinstance(vectors, np.ndarray)
    assert vectors.dtype == np.float32 and vectors.shape == (count, dimensions)
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


class EmbedderContract:
    """Mixin: every promise of the ``Embedder`` docstrings, for the implementation the ``embedder`` fixture gives."""

    def test_it_names_its_model_and_size(self, embedder: Embedder) -> None:
        assert isinstance(embedder.model_id, str) and embedder.model_id
        assert isinstance(embedder.dimensions, int) and 1 <= embedder.dimensions <= 4096
        assert isinstance(embedder.max_input_tokens, int) and embedder.max_input_tokens > 0

    async def test_nothing_in_gives_an_empty_array(self, embedder: Embedder) -> None:
        vectors = await embedder.embed([])
        assert isinstance(vectors, np.ndarray)
        assert vectors.dtype == np.float32 and vectors.shape == (0, embedder.dimensions)

    async def test_one_unit_vector_per_text(self, embedder: Embedder) -> None:
        assert_vectors(await embedder.embed(TEXTS), len(TEXTS), embedder.dimensions)

    async def test_row_i_is_text_i_whatever_the_batch(self, embedder: Embedder) -> None:
        together = await embedder.embed(TEXTS)
        alone = np.stack([(await embedder.embed([text]))[0] for text in TEXTS])
        reversed_ = await embedder.embed(TEXTS[::-1])
        np.testing.assert_allclose(together, alone, atol=TOLERANCE)
        np.testing.assert_allclose(together, reversed_[::-1], atol=TOLERANCE)

    async def test_the_same_text_gives_the_same_vector(self, embedder: Embedder) -> None:
        first = await embedder.embed([TEXTS[0], TEXTS[1], TEXTS[0]])
        again = await embedder.embed([TEXTS[0]])
        np.testing.assert_allclose(first[0], first[2], atol=TOLERANCE)
        np.testing.assert_allclose(first[0], again[0], atol=TOLERANCE)

    async def test_different_texts_give_different_vectors(self, embedder: Embedder) -> None:
        vectors = await embedder.embed(TEXTS)
        similarity = vectors @ vectors.T
        off_diagonal = similarity[~np.eye(len(TEXTS), dtype=bool)]
        assert (off_diagonal < 0.999).all()

    async def test_a_large_batch_keeps_its_order(self, embedder: Embedder) -> None:
        texts = [f"document number {n} about topic {n % 7}" for n in range(300)]
        vectors = await embedder.embed(texts)
        assert_vectors(vectors, len(texts), embedder.dimensions)
        for n in (0, 137, 299):
            np.testing.assert_allclose(vectors[n], (await embedder.embed([texts[n]]))[0], atol=TOLERANCE)
