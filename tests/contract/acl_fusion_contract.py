"""Trimming and the exact-term rule of hybrid search together, as a test mixin beside ``acl_contract.py``.

The rule (``ingestion/indexing/fusion.py``) picks a query's vector weight from how many chunks contain its exact
terms. For a trimmed query those counts must cover only the chunks the principal may see: a term that occurs only in
a document the user cannot read must rank their results exactly as if that document did not exist, or the ranking
tells them the term is there. The operator (no principal) still counts the whole index. Same fixture as
``AclContract``: ``acl_index``, a fresh, ensured v3 index of 4-long vectors, on either backend.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ingestion.acl import Acl, Principal
from ingestion.indexing.base import Index
from ingestion.indexing.fusion import ExactTermRule
from ingestion.keys import chunk_key, document_key
from ingestion.models import SearchMode
from tests.contract.index_contract import make_document, vec

QUESTION = "What does max_wal_senders do?"
TERM = "max_wal_senders"
STAFF = Principal.of(None, ["staff"])
DBA = Principal.of("oid-dba", ["staff"])
SECRET = "/acl/secret-settings.txt"


async def put_one(index: Index, source_id: str, text: str, vector: np.ndarray, acl: Acl) -> None:
    record, chunks = make_document(source_id, [(text, vector)])
    chunks = [replace(chunk, groups=acl.groups, oids=acl.oids) for chunk in chunks]
    await index.replace_document(replace(record, acl_hash=acl.digest()), chunks)


async def ranking(index: Index, principal: Principal | None) -> list[tuple[str, float]]:
    hits = await index.search(QUESTION, vector=vec(1, 0, 0, 0), mode=SearchMode.HYBRID, top=20, principal=principal)
    return [(hit.key, round(hit.score, 9)) for hit in hits]


def key(number: int) -> str:
    return chunk_key(document_key(f"/acl/w{number:02}.txt"), 0)


class AclFusionContract:
    async def staff_corpus(self, index: Index) -> None:
        """Fifteen staff chunks ever further from the query vector; only the last matches the question's words,
        and none names ``max_wal_senders``. Usual vector weight 6, exact-term weight 0.5."""
        index.vector_weight = 6.0  # type: ignore[attr-defined]
        index.exact_term_rule = ExactTermRule(0.5)  # type: ignore[attr-defined]
        for i, angle in enumerate(np.linspace(0.0, 1.2, 15)):
            text = "what does the log writer do" if i == 14 else f"wind turbine number {i}"
            vector = vec(float(np.cos(angle)), float(np.sin(angle)), 0, 0)
            await put_one(index, f"/acl/w{i:02}.txt", text, vector, Acl.of(groups=["staff"]))

    async def test_a_term_only_in_a_hidden_document_does_not_change_a_trimmed_ranking(self, acl_index: Index) -> None:
        await self.staff_corpus(acl_index)
        without = await ranking(acl_index, STAFF)
        scores = dict(without)  # by score: a semantic reranker may reorder the hits
        assert scores[key(0)] == pytest.approx(6 / 61)  # no exact term here: the vector ranking leads
        assert scores[key(14)] == pytest.approx(1 / 61 + 6 / 75)

        await put_one(acl_index, SECRET, f"{TERM} is 40 on the primary", vec(0, 0, 0, 1), Acl.of(oids=["oid-dba"]))
        assert await acl_index.count_exact([TERM], principal=STAFF) == [0]  # type: ignore[attr-defined]
        assert await acl_index.count_exact([TERM]) == [1]  # type: ignore[attr-defined]
        assert await ranking(acl_index, STAFF) == without  # as if the hidden document did not exist

    async def test_the_operator_and_a_principal_who_can_see_it_count_the_document(self, acl_index: Index) -> None:
        await self.staff_corpus(acl_index)
        assert await ranking(acl_index, None) == await ranking(acl_index, STAFF)  # nothing hidden yet
        await put_one(acl_index, SECRET, f"{TERM} is 40 on the primary", vec(0, 0, 0, 1), Acl.of(oids=["oid-dba"]))
        assert await acl_index.count_exact([TERM], principal=DBA) == [1]  # type: ignore[attr-defined]
        for principal in (None, DBA):  # the rule applies: the vector ranking's leader drops to weight 0.5
            scores = dict(await ranking(acl_index, principal))
            assert scores[key(0)] == pytest.approx(0.5 / 61), principal
            assert max(scores, key=scores.__getitem__) != key(0), principal
            assert chunk_key(document_key(SECRET), 0) in scores, principal
