"""The dry run of a migration: how many tokens it would embed, and what that costs, before anything is written.

A migration embeds only chunks whose vector cannot be copied from the live index (``Pipeline.reuse_from``): a chunk
hash covers the embedded text, the embedding model and the dimensions. The estimate follows the same rule per
document, reading as little as it can:

- a live document with the same content hash whose fingerprint is what these settings give at the live schema
  version would be chunked exactly as before: all its chunks are reused, nothing is read;
- any other document is read, cracked and chunked (never embedded), and the tokens of its chunks whose hash the live
  index does not hold are counted, as the pipeline would embed them.

So a change of non-vector fields counts zero tokens, and a change of embedding model or dimensions counts every
chunk (``reembed_all``). Prices are USD per million tokens: ``EMBEDDING_PRICE_PER_MILLION`` when set, else the list
price of a known Azure OpenAI model (late 2024; check your agreement), else 0 for models that run on this machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingestion.errors import BadInputError
from ingestion.indexing.base import Index
from ingestion.jsonview import as_json
from ingestion.keys import document_key
from ingestion.models import SourceItem
from ingestion.pipeline import Pipeline
from ingestion.sources.base import Source

LIST_PRICES = {"text-embedding-3-small": 0.02, "text-embedding-3-large": 0.13, "text-embedding-ada-002": 0.10}
REMOTE_PREFIX = "azure_openai/"


def price_per_million(model_id: str, configured: float | None) -> float | None:
    """USD per million tokens for ``model_id``; None when neither configured nor known."""
    if configured is not None:
        return configured
    if not model_id.startswith(REMOTE_PREFIX):
        return 0.0
    return LIST_PRICES.get(model_id.removeprefix(REMOTE_PREFIX))


@dataclass
class Estimate:
    model: str
    dimensions: int
    price_per_million: float | None
    reembed_all: bool = False
    documents: int = 0
    read: int = 0
    failed: int = 0
    chunks: int = 0
    reused_chunks: int = 0
    tokens: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)

    @property
    def cost(self) -> float | None:
        return None if self.price_per_million is None else self.tokens * self.price_per_million / 1_000_000

    def as_dict(self) -> dict[str, object]:
        cost = self.cost
        return as_json(
            self,
            rename={"read": "documents_read", "tokens": "tokens_to_embed"},
            skip=("price_per_million", "failures"),
            price_per_million_tokens=self.price_per_million,
            estimated_cost=None if cost is None else round(cost, 6),
            failures=self.failures,
        )


async def estimate_migration(
    pipeline: Pipeline,
    source: Source,
    *,
    live: Index | None,
    live_version: int | None,
    price: float | None,
    live_dimensions: int | None = None,
) -> Estimate:
    """Tokens ``pipeline`` would embed to build a new index from ``source``, copying what it can from ``live``."""
    embedder = pipeline.embedder
    result = Estimate(model=embedder.model_id, dimensions=embedder.dimensions, price_per_million=price)
    result.reembed_all = live is None or live_dimensions != embedder.dimensions
    live_fingerprint = pipeline.fingerprint_for(live_version) if live_version is not None else None
    async for item in source.list():
        result.documents += 1
        try:
            await _estimate_one(pipeline, source, item, live, live_fingerprint, result)
        except BadInputError as exc:
            result.failed += 1
            result.failures.append({"source": item.path, "error": str(exc)})
    return result


async def _estimate_one(
    pipeline: Pipeline,
    source: Source,
    item: SourceItem,
    live: Index | None,
    live_fingerprint: str | None,
    result: Estimate,
) -> None:
    key = document_key(item.source_id)
    record = await live.get_document(key) if live is not None else None
    if record is not None and record.content_version == item.content_version and record.fingerprint == live_fingerprint:
        result.chunks += record.chunk_count
        result.reused_chunks += record.chunk_count
        return
    result.read += 1
    document, chunks = await pipeline.chunk_document(source, item)
    reusable = set(await live.get_vectors(key)) if record is not None and live is not None else set()
    missing: dict[str, str] = {}
    for _, text, digest in pipeline.embedding_inputs(document, chunks):
        if digest in reusable:
            result.reused_chunks += 1
        else:
            missing.setdefault(digest, text)
    result.chunks += len(chunks)
    result.tokens += sum(pipeline.tokenizer.count(text) for text in missing.values())
