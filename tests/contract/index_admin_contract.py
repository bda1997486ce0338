"""The ``IndexAdmin`` contract (ingestion/indexing/admin.py) as a reusable test mixin.

A test class inherits ``IndexAdminContract`` and supplies one async fixture, ``admin``, yielding a fresh admin of
alias ``ALIAS`` on an empty store (and closing it afterwards). Every test below then runs against that
implementation; the file name does not start with ``test_`` so pytest only collects the subclasses. The
compare-and-swap of ``set_alias`` under concurrency has its own suite (tests/integration/test_alias_cas.py).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from index_schemas import v1, v2
from index_schemas.diff import diff_indexes
from index_schemas.params import SchemaParams
from ingestion.errors import AliasConflict, ConfigurationError, ConflictError
from ingestion.indexing.admin import IndexAdmin, IndexState
from tests.contract.index_contract import make_document, vec

ALIAS = "grounding"
DIMENSIONS = 4
V1, V2 = f"{ALIAS}-v1", f"{ALIAS}-v2"


def definition(name: str, version: int = 1, dimensions: int = DIMENSIONS):  # type: ignore[no-untyped-def]
    build = {1: v1.build, 2: v2.build}[version]
    return build(SchemaParams(name=name, dimensions=dimensions))


class IndexAdminContract:
    async def test_a_created_index_is_building_until_marked_ready(self, admin: IndexAdmin) -> None:
        assert await admin.list_indexes() == [] and await admin.get_alias() is None
        created = await admin.create_index(definition(V1), version=1)
        assert (created.name, created.version, created.dimensions, created.state) == (V1, 1, DIMENSIONS, "building")
        await admin.mark_ready(V1)
        (listed,) = await admin.list_indexes()
        assert (listed.name, listed.state, listed.retired_at) == (V1, IndexState.READY, None)

    async def test_the_definition_reads_back_equal_to_the_one_created(self, admin: IndexAdmin) -> None:
        await admin.create_index(definition(V1), version=1)
        stored = await admin.get_definition(V1)
        assert stored is not None and stored.name == V1
        assert not diff_indexes(stored, definition(V1))
        assert await admin.get_definition(f"{ALIAS}-v9") is None

    async def test_creating_an_existing_index_is_refused(self, admin: IndexAdmin) -> None:
        await admin.create_index(definition(V1), version=1)
        with pytest.raises(ConfigurationError, match="already exists"):
            await admin.create_index(definition(V1), version=1)

    async def test_list_is_by_version_and_ignores_other_names(self, admin: IndexAdmin) -> None:
        await admin.create_index(definition(V2, 2), version=2)
        await admin.create_index(definition(V1), version=1)
        await admin.create_index(definition("other-v1"), version=1)
        assert [(i.name, i.version) for i in await admin.list_indexes()] == [(V1, 1), (V2, 2)]

    async def test_an_in_place_update_records_the_new_version(self, admin: IndexAdmin) -> None:
        await admin.create_index(definition(V1), version=1)
        updated = await admin.update_index(replace(definition(V2, 2), name=V1), version=2)
        assert (updated.name, updated.version) == (V1, 2)
        stored = await admin.get_definition(V1)
        assert stored is not None and stored.get_field("file_type") is not None

    async def test_a_rebuild_change_is_refused_and_changes_nothing(self, admin: IndexAdmin) -> None:
        await admin.create_index(definition(V1), version=1)
        with pytest.raises(ConfigurationError):
            await admin.update_index(definition(V1, dimensions=DIMENSIONS * 2), version=1)
        stored = await admin.get_definition(V1)
        assert stored is not None and not diff_indexes(stored, definition(V1))

    async def test_updating_a_missing_index_is_refused(self, admin: IndexAdmin) -> None:
        with pytest.raises(ConfigurationError):
            await admin.update_index(definition(V1), version=1)

    async def test_the_alias_moves_and_retires_what_it_left(self, admin: IndexAdmin) -> None:
        for name, version in ((V1, 1), (V2, 2)):
            await admin.create_index(definition(name, version), version=version)
        await admin.set_alias(V1)
        assert await admin.get_alias() == V1
        await admin.set_alias(V2, expected=V1)
        assert await admin.get_alias() == V2
        states = {i.name: i for i in await admin.list_indexes()}
        assert states[V1].retired_at is not None and states[V2].retired_at is None

    async def test_a_compare_and_swap_against_a_stale_target_is_a_conflict(self, admin: IndexAdmin) -> None:
        for name, version in ((V1, 1), (V2, 2)):
            await admin.create_index(definition(name, version), version=version)
        await admin.set_alias(V1, expected=None)
        with pytest.raises(AliasConflict) as caught:
            await admin.set_alias(V2, expected=None)
        assert isinstance(caught.value, ConflictError) and await admin.get_alias() == V1

    async def test_the_alias_cannot_point_at_a_missing_index(self, admin: IndexAdmin) -> None:
        with pytest.raises(ConfigurationError):
            await admin.set_alias(V1)
        assert await admin.get_alias() is None

    async def test_the_aliased_index_cannot_be_deleted(self, admin: IndexAdmin) -> None:
        for name, version in ((V1, 1), (V2, 2)):
            await admin.create_index(definition(name, version), version=version)
        await admin.set_alias(V1)
        with pytest.raises(ConfigurationError):
            await admin.delete_index(V1)
        assert await admin.delete_index(V2) is True
        assert await admin.delete_index(V2) is False
        assert [i.name for i in await admin.list_indexes()] == [V1]

    async def test_an_opened_index_reads_and_writes_that_index(self, admin: IndexAdmin) -> None:
        created = await admin.create_index(definition(V1), version=1)
        index = admin.open_index(created)
        try:
            await index.ensure()
            record, chunks = make_document("/docs/a.txt", [("alpha beta", vec(1, 0, 0, 0))])
            await index.replace_document(record, chunks)
            assert (await index.stats()).documents == 1
        finally:
            await index.close()
