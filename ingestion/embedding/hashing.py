"""A deterministic stand-in embedder: vectors seeded from a SHA-256 of the text.

``HashEmbedder`` vectors have NO semantic meaning: "car" and "automobile" are as far apart as any two strings. It
exists for tests and benchmarks that need real-shaped vectors without a model. The same text gives the same vector in
every process (SHA-256, never Python's salted ``hash``, and no NumPy random stream that could change between
versions); different texts give unrelated, nearly orthogonal vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

MODEL_ID = "hash-sha256"
_BLOCK_BYTES = hashlib.sha256().digest_size


class HashEmbedder:
    """Unit-length float32 vectors expanded from ``sha256(text)``. Not semantic: for tests and benchmarks only."""

    max_input_tokens: int = 1_000_000

    def __init__(self, dimensions: int = 384) -> None:
        if dimensions < 1:
            raise ValueError(f"dimensions must be at least 1, got {dimensions}")
        self.dimensions = dimensions
        self.model_id = MODEL_ID

    def embed_one(self, text: str) -> np.ndarray:
        """The vector for one text (pure; the same on every call, in every process, with any NumPy version).

        ``seed = sha256(text)``; block ``n`` of the stream is ``sha256(seed || n)``; each 4 bytes of the stream become
        one component, uniform in [-1, 1); the vector is then scaled to unit length.
        """
        seed = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
        blocks = -(-self.dimensions * 4 // _BLOCK_BYTES)
        stream = b"".join(hashlib.sha256(seed + n.to_bytes(4, "big")).digest() for n in range(blocks))
        words = np.frombuffer(stream, dtype=">u4", count=self.dimensions).astype(np.float64)
        vector = words / 2.0**31 - 1.0
        norm = np.linalg.norm(vector)
        if norm == 0.0:  # pragma: no cover - needs every component to hash to exactly 2**31
            vector, norm = np.ones(self.dimensions), np.sqrt(self.dimensions)
        return (vector / norm).astype(np.float32)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return a ``(len(texts), dimensions)`` float32 array, row ``i`` for ``texts[i]``."""
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = self.embed_one(text)
        return out

    async def close(self) -> None:
        return None
