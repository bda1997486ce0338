"""The exact-term rule of hybrid search (``fusion.py``) on Azure AI Search: how often each term occurs in the index.

One ``count`` query per term: the term as a phrase in the simple syntax, ``top=0``, ``$count=true``. The service
analyses the phrase as it analysed the documents, so the count means the same as the local store's FTS5 phrase
count. The fused query then carries the chosen vector ``weight`` (the per-query weight the service supports). A
trimmed query passes its principal's filter in ``options``, so the counts cover only what the user may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from azure.search.documents.aio import SearchClient

from index_schemas.v1 import Field
from ingestion.indexing.fusion import phrase


async def count_exact(client: SearchClient, terms: Sequence[str], *, limit: int, **options: Any) -> list[int]:
    """Per term, how many documents (chunks) contain it as a phrase, capped at ``limit``; ``options`` go to search."""
    counts = []
    for term in terms:
        results = await client.search(
            search_text=phrase(term), top=0, include_total_count=True, select=[Field.ID.value], **options
        )
        counts.append(min(int(await results.get_count() or 0), limit))
    return counts
