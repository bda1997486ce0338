"""Text -> token-bounded, structure-aware chunks: ``Chunker(tokenizer, max_tokens=..., overlap_tokens=...)``.

Pure: no I/O, and the tokenizer is injected. ``chunker.py`` packs and cuts, ``markdown.py`` finds the structure
(sections, code fences, tables, paragraphs), ``meter.py`` does the token accounting.
"""

from ingestion.chunking.chunker import Chunker

__all__ = ["Chunker"]
