"""Text to vectors.

An ``Embedder`` has a ``model_id`` and ``dimensions`` (both go into the pipeline fingerprint: change either and every
vector is recomputed) and embeds a batch of texts asynchronously. Vectors come back as one float32 array of shape
``(len(texts), dimensions)``, row ``i`` for ``texts[i]`` — never reordered, never short. Implementations own their
batching and retries; an input they cannot embed fails the whole call with an error from ``ingestion.errors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


class Embedder(Protocol):
    model_id: str
    dimensions: int
    max_input_tokens: int
    """Longest input (in the model's own tokens) it accepts; for azure_openai ``wiring.build_pipeline`` refuses a
    chunker cap above it (``wiring.check_chunk_cap``)."""

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return a ``(len(texts), dimensions)`` float32 array of unit-length vectors.

        Raises TransientError (after the embedder's own retries are spent), ThrottledError, ConfigurationError
        (credentials or deployment refused), BadInputError (an input the service rejects). An empty ``texts`` returns
        an empty ``(0, dimensions)`` array without calling anything.
        """
        ...

    async def close(self) -> None: ...


@runtime_checkable
class CountedEmbedder(Protocol):
    """An embedder that takes inputs already counted in ``tokenizer_name``'s tokens (the pipeline counts each chunk
    once, in the chunker, and carries the count; the batching embedder would otherwise encode every input again)."""

    tokenizer_name: str

    async def embed_counted(self, texts: Sequence[str], counts: Sequence[int]) -> np.ndarray:
        """``embed(texts)``, trusting ``counts[i]`` as the token count of ``texts[i]``."""
        ...
