"""The query side of ``AzureSearchIndex`` (``index.py``): ``search`` (text, vector or hybrid, optionally trimmed to a
principal, with the semantic ranker when the index has a semantic configuration) and the exact-term counts that set a
hybrid query's vector weight (``ingestion/indexing/fusion.py``). A mixin: ``AzureSearchIndex`` supplies the client,
the definition's facts (``name``, ``version``, ``dimensions``, ``_acl``) and the fusion settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from azure.core.exceptions import AzureError
from azure.search.documents.models import VectorizedQuery

from index_schemas.v1 import SEMANTIC_CONFIGURATION, Field
from index_schemas.v3 import Field as AclField
from ingestion.acl import Principal, require_acl_fields
from ingestion.indexing.azure.errors import translate
from ingestion.indexing.azure.fusion import count_exact
from ingestion.indexing.azure.listing import READ_METHODS
from ingestion.indexing.azure.query import equals, hit_from, query_text
from ingestion.indexing.base import HIT_FIELDS, plan_search
from ingestion.indexing.fusion import exact_terms, hybrid_vector_weight
from ingestion.models import SearchHit, SearchMode


class SearchQueries:
    """Mixed into ``AzureSearchIndex``; see the module docstring for what it relies on."""

    async def search(
        self,
        text: str,
        *,
        vector: np.ndarray | None = None,
        mode: SearchMode = SearchMode.HYBRID,
        top: int = 5,
        source_path: str | None = None,
        principal: Principal | None = None,
    ) -> list[SearchHit]:
        mode, query, k = plan_search(vector, mode=mode, top=top, dimensions=self.dimensions)
        if principal is not None:
            require_acl_fields(self._acl, index=self.name, version=self.version, what="a trimmed query")
        words = None if mode is SearchMode.VECTOR else query_text(text)
        if words is None and query is None:
            return []
        options: dict[str, Any] = {"select": list(HIT_FIELDS), "top": top, "retry_on_methods": READ_METHODS}
        filters = [] if source_path is None else [equals(Field.SOURCE_PATH, source_path)]
        if principal is not None:
            filters.append(self._trimming(principal))
        if filters:
            options["filter"] = " and ".join(filters)
        if query is not None:
            weight = await self._hybrid_weight(text, principal) if mode is SearchMode.HYBRID else None
            vector_query = VectorizedQuery(
                vector=query.tolist(), k_nearest_neighbors=k, fields=Field.EMBEDDING.value, weight=weight
            )
            options["vector_queries"] = [vector_query]
        if words is not None and await self._uses_semantic():
            options.update(query_type="semantic", semantic_configuration_name=SEMANTIC_CONFIGURATION)
        try:
            results = await self._client().search(search_text=words, **options)
            hits = [hit_from(row) async for row in results]
        except AzureError as error:
            raise translate(error, what=f"search {self.name}") from None
        return hits[:top]

    async def _hybrid_weight(self, text: str, principal: Principal | None) -> float:
        """The vector query's weight for a hybrid query on ``text`` (``fusion.ExactTermRule``), counting only the
        chunks ``principal`` may see."""
        rule = self.exact_term_rule
        terms = exact_terms(text) if rule is not None else []
        if rule is None or not terms:
            return self.vector_weight
        counts = await self.count_exact(terms, limit=rule.max_chunks + 1, principal=principal)
        return hybrid_vector_weight(self.vector_weight, rule, counts)

    async def count_exact(
        self, terms: Sequence[str], *, limit: int = 1000, principal: Principal | None = None
    ) -> list[int]:
        """Per term, how many chunks (capped at ``limit``) contain it as a phrase (``azure.fusion.count_exact``), of
        those ``principal`` may see: its trimming filter goes on every count query (none without a principal)."""
        options: dict[str, Any] = {"retry_on_methods": READ_METHODS}
        if principal is not None:
            options["filter"] = self._trimming(principal)
        try:
            return await count_exact(self._client(), terms, limit=limit, **options)
        except AzureError as error:
            raise translate(error, what=f"search {self.name}") from None

    @staticmethod
    def _trimming(principal: Principal) -> str:
        return principal.odata_filter(oids_field=AclField.OIDS, groups_field=Field.GROUPS)
