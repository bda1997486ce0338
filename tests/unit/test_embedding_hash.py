from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingestion.embedding.hashing import HashEmbedder

REPO = Path(__file__).resolve().parents[2]

TEXTS = ["alpha", "beta", "", "alpha", "naïve café ☕", "x" * 10_000]


async def test_vectors_are_unit_length_float32_rows_in_input_order() -> None:
    embedder = HashEmbedder()
    vectors = await embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    for row, text in enumerate(TEXTS):
        assert np.array_equal(vectors[row], embedder.embed_one(text))


async def test_same_text_same_vector_different_text_unrelated_vector() -> None:
    vectors = await HashEmbedder().embed(TEXTS)
    assert np.array_equal(vectors[0], vectors[3])
    assert not np.array_equal(vectors[0], vectors[1])
    # Unrelated random directions in 384 dimensions are nearly orthogonal.
    assert abs(float(vectors[0] @ vectors[1])) < 0.3
    assert abs(float(vectors[1] @ vectors[2])) < 0.3


async def test_dimensions_are_configurable() -> None:
    small, large = HashEmbedder(dimensions=8), HashEmbedder(dimensions=1536)
    assert small.dimensions == 8
    assert (await small.embed(["a"])).shape == (1, 8)
    assert (await large.embed(["a", "b"])).shape == (2, 1536)
    assert small.model_id == large.model_id == "hash-sha256"
    assert small.max_input_tokens >= 100_000


async def test_empty_input_returns_empty_array() -> None:
    vectors = await HashEmbedder(dimensions=16).embed([])
    assert vectors.shape == (0, 16)
    assert vectors.dtype == np.float32


def test_rejects_non_positive_dimensions() -> None:
    with pytest.raises(ValueError, match="dimensions"):
        HashEmbedder(dimensions=0)


@pytest.mark.parametrize("hash_seed", ["0", "12345"])
def test_vector_is_identical_in_another_process(hash_seed: str) -> None:
    code = (
        "import sys; from ingestion.embedding.hashing import HashEmbedder; "
        "sys.stdout.write(HashEmbedder().embed_one('naïve café ☕').tobytes().hex())"
    )
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    assert bytes.fromhex(result.stdout) == HashEmbedder().embed_one("naïve café ☕").tobytes()
