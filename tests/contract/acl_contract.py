"""The access-control part of the ``Index`` contract (``search(principal=...)``, ``update_acl``) as a test mixin.

A test class inherits ``AclContract`` and supplies two async fixtures: ``acl_index``, a fresh, ensured index at
schema v3 (the first with ACL fields) of 4-long vectors, and ``v1_index``, one at schema v1. The same
tests run against the local SQLite store and the Azure AI Search writer on the fake service, so both backends apply
one rule: a chunk is visible when it is public (``*`` in ``groups``), lists the user's oid, or lists one of the
user's groups; trimming happens inside the ranking, never after ``top``.
"""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from ingestion.acl import Acl, Principal
from ingestion.errors import ConfigurationError
from ingestion.indexing.base import Index
from ingestion.keys import document_key
from ingestion.models import SearchMode
from tests.contract.index_contract import make_document, vec

ALL_MODES = (SearchMode.TEXT, SearchMode.VECTOR, SearchMode.HYBRID)
# The word every test document shares, so a text query can reach all of them.
SHARED = "quarterly"
GRANTS = {
    "/acl/public.txt": Acl.public(),
    "/acl/finance.txt": Acl.of(groups=["finance"]),
    "/acl/hr.txt": Acl.of(groups=["hr", "o'brien"]),
    "/acl/alice.txt": Acl.of(oids=["oid-alice"]),
    "/acl/nobody.txt": Acl(),
    "/acl/mixed.txt": Acl.of(oids=["oid-bob"], groups=["finance"]),
}


async def put_with_acl(index: Index, source_id: str, acl: Acl, vector: np.ndarray, *, extra: str = "") -> None:
    record, chunks = make_document(
        source_id, [(f"{SHARED} report {extra} part one", vector), (f"{SHARED} report {extra} part two", vector)]
    )
    chunks = [replace(chunk, groups=acl.groups, oids=acl.oids) for chunk in chunks]
    await index.replace_document(replace(record, acl_hash=acl.digest()), chunks)


async def visible_sources(index: Index, principal: Principal | None, mode: SearchMode, *, top: int = 50) -> set[str]:
    hits = await index.search(SHARED, vector=vec(1, 1, 1, 1), mode=mode, top=top, principal=principal)
    return {hit.source_path for hit in hits}


class AclContract:
    async def corpus(self, index: Index) -> None:
        for number, (source_id, acl) in enumerate(GRANTS.items()):
            await put_with_acl(index, source_id, acl, vec(1, number + 1, 0, 0))

    @pytest.mark.parametrize(
        ("oid", "groups", "expected"),
        [
            (None, [], {"public"}),
            ("oid-alice", [], {"public", "alice"}),
            (None, ["finance"], {"public", "finance", "mixed"}),
            ("oid-bob", ["o'brien"], {"public", "hr", "mixed"}),
            ("oid-carol", ["sales", "hr"], {"public", "hr"}),
            ("*", ["*"], {"public"}),  # the public sentinel as an id grants nothing more
        ],
    )
    async def test_trimmed_queries_see_public_and_listed_documents_only(
        self, acl_index: Index, oid: str | None, groups: list[str], expected: set[str]
    ) -> None:
        await self.corpus(acl_index)
        principal = Principal.of(oid, groups)
        for mode in ALL_MODES:
            found = await visible_sources(acl_index, principal, mode)
            assert found == {f"/acl/{name}.txt" for name in expected}, mode

    async def test_without_a_principal_the_operator_sees_everything(self, acl_index: Index) -> None:
        await self.corpus(acl_index)
        for mode in ALL_MODES:
            assert await visible_sources(acl_index, None, mode) == set(GRANTS)

    async def test_trimming_happens_before_top(self, acl_index: Index) -> None:
        for number in range(6):  # six hidden documents that match better than the visible one
            await put_with_acl(acl_index, f"/acl/secret-{number}.txt", Acl.of(groups=["board"]), vec(1, 0, 0, 0))
        await put_with_acl(acl_index, "/acl/open.txt", Acl.of(groups=["staff"]), vec(0, 0, 0, 1))
        for mode in ALL_MODES:
            assert await visible_sources(acl_index, Principal.of(None, ["staff"]), mode, top=1) == {"/acl/open.txt"}

    async def test_trimming_combines_with_the_source_filter(self, acl_index: Index) -> None:
        await self.corpus(acl_index)
        finance = Principal.of(None, ["finance"])
        for mode in ALL_MODES:
            for source_id, expected in [("/acl/finance.txt", 2), ("/acl/hr.txt", 0), ("/acl/public.txt", 2)]:
                hits = await acl_index.search(
                    SHARED, vector=vec(1, 1, 1, 1), mode=mode, top=10, source_path=source_id, principal=finance
                )
                assert [hit.source_path for hit in hits] == [source_id] * expected, (mode, source_id)

    async def test_update_acl_grants_and_revokes_without_touching_anything_else(self, acl_index: Index) -> None:
        await put_with_acl(acl_index, "/acl/plan.txt", Acl.of(groups=["g1"]), vec(1, 2, 3, 4))
        key = document_key("/acl/plan.txt")
        before, vectors = await acl_index.get_document(key), await acl_index.get_vectors(key)
        g1, g2 = Principal.of(None, ["g1"]), Principal.of(None, ["g2"])
        assert await visible_sources(acl_index, g1, SearchMode.HYBRID) == {"/acl/plan.txt"}

        assert await acl_index.update_acl(key, Acl.of(groups=["g2"])) is True
        for mode in ALL_MODES:
            assert await visible_sources(acl_index, g1, mode) == set()  # revoked, every chunk
            assert await visible_sources(acl_index, g2, mode) == {"/acl/plan.txt"}  # granted
        after = await acl_index.get_document(key)
        assert after == replace(before, acl_hash=Acl.of(groups=["g2"]).digest())
        assert {h: v.tolist() for h, v in (await acl_index.get_vectors(key)).items()} == {
            h: v.tolist() for h, v in vectors.items()
        }  # the vectors survived the partial update
        hits = await acl_index.search(SHARED, mode=SearchMode.TEXT, top=5, principal=g2)
        assert sorted(hit.content for hit in hits) == [f"{SHARED} report  part one", f"{SHARED} report  part two"]

    async def test_update_acl_of_a_missing_document_is_false(self, acl_index: Index) -> None:
        assert await acl_index.update_acl(document_key("/acl/none.txt"), Acl.public()) is False
        stats = await acl_index.stats()
        assert (stats.documents, stats.chunks) == (0, 0)

    async def test_an_index_without_acl_fields_refuses_trimming_and_acl_updates(self, v1_index: Index) -> None:
        record, chunks = make_document("/acl/old.txt", [(f"{SHARED} notes", vec(1, 0, 0, 0))])
        await v1_index.replace_document(record, chunks)
        with pytest.raises(ConfigurationError, match="schema v1: migrate"):
            await v1_index.search(SHARED, mode=SearchMode.TEXT, principal=Principal.of(None, ["g1"]))
        with pytest.raises(ConfigurationError, match="schema v1: migrate"):
            await v1_index.update_acl(record.key, Acl.public())
        assert [h.source_path for h in await v1_index.search(SHARED, mode=SearchMode.TEXT)] == ["/acl/old.txt"]

    async def test_random_acls_and_principals_match_a_brute_force_reference(self, acl_index: Index) -> None:
        """Property-style: random ACLs over a small id alphabet and random principals, seeded; every trimmed result
        equals the reference rule applied to the ACLs we wrote, in every mode, with and without updates."""
        rng = random.Random(20261206)
        oids, groups = [f"u{n}" for n in range(5)], [f"g{n}" for n in range(5)] + ["a'b", "c d"]

        def random_acl() -> Acl:
            if rng.random() < 0.15:
                return Acl.public()
            return Acl.of(rng.sample(oids, rng.randint(0, 2)), rng.sample(groups, rng.randint(0, 3)))

        written = {f"/acl/p{n:02d}.txt": random_acl() for n in range(14)}
        for number, (source_id, acl) in enumerate(written.items()):
            await put_with_acl(acl_index, source_id, acl, vec(1, number % 3, number % 5, 1))
        for round_number in range(3):
            for _ in range(12):
                principal = Principal.of(
                    rng.choice([None, *oids, "u-unknown"]), rng.sample(groups, rng.randint(0, len(groups)))
                )
                expected = {s for s, acl in written.items() if principal.visible(acl.oids, acl.groups)}
                mode = rng.choice(ALL_MODES)
                assert await visible_sources(acl_index, principal, mode) == expected, (principal, mode)
            for source_id in rng.sample(sorted(written), 4):  # grants and revocations between rounds
                written[source_id] = random_acl()
                assert await acl_index.update_acl(document_key(source_id), written[source_id]), round_number
