"""The alias swap is a compare-and-swap: ``IndexAdmin.set_alias(name, expected=...)`` moves the alias only if it still
points where the caller expects, else ``AliasConflict`` and nothing changes. The same contract on the local SQLite
admin and on the Azure admin (the fake service through the real SDK: ETags, ``If-Match``, 412), then what uses it:
a migration, a rollback and a Functions migration run whose live index someone else moved refuse to swap.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from azure.core.credentials import AzureKeyCredential

from ingestion import wiring
from ingestion.deployment import lifecycle
from ingestion.deployment import migrate as migrate_module
from ingestion.deployment.migrate import plan_migration
from ingestion.deployment.migration_runs import Migrations
from ingestion.errors import AliasConflict, ConfigurationError, ConflictError
from ingestion.indexing.admin import IndexAdmin, IndexState, PhysicalIndex
from ingestion.indexing.azure.admin import AzureIndexAdmin
from ingestion.indexing.local.admin import LocalIndexAdmin
from ingestion.pipeline import Pipeline
from ingestion.runs.records import RunRecord, RunStatus
from ingestion.settings import Settings
from ingestion.sources.local import LocalFolderSource
from tests.fakes.search_server import FakeSearchServer
from tests.integration.test_schema_local import (  # noqa: F401  (fixtures: env, cli_env)
    TOPICS,
    Embedder,
    Env,
    cli_env,
    env,
    run_cli,
)

ALIAS = "grounding"
V1, R2, R3 = "grounding-v3", "grounding-v3-r2", "grounding-v3-r3"
CONFIG = lifecycle.SchemaConfig(dimensions=384)


@dataclass
class Backend:
    """An admin on one backend, more admins on the same store (other processes), and the alias's target as stored
    (the SQLite table, the fake service's state), read without going through an admin."""

    stored: Callable[[], str | None]
    new_admin: Callable[[], IndexAdmin]
    server: FakeSearchServer | None = None
    admins: list[IndexAdmin] = field(default_factory=list)

    @property
    def service(self) -> FakeSearchServer:
        assert self.server is not None
        return self.server

    @property
    def admin(self) -> IndexAdmin:
        if not self.admins:
            self.other()
        return self.admins[0]

    def other(self) -> IndexAdmin:
        self.admins.append(self.new_admin())
        return self.admins[-1]


def local_backend(path: Path) -> Backend:
    def stored() -> str | None:
        with closing(sqlite3.connect(path)) as conn:
            row = conn.execute("SELECT index_name FROM aliases WHERE alias = ?", (ALIAS,)).fetchone()
        return row[0] if row else None

    return Backend(stored, lambda: LocalIndexAdmin(path, ALIAS))


def azure_backend(server: FakeSearchServer) -> Backend:
    def stored() -> str | None:
        return server.aliases[ALIAS]["indexes"][0] if ALIAS in server.aliases else None

    def new_admin() -> AzureIndexAdmin:
        credential = AzureKeyCredential(server.api_key)
        return AzureIndexAdmin(server.url, ALIAS, credential=credential, propagation_seconds=0.0)

    return Backend(stored, new_admin, server)


@asynccontextmanager
async def closing_admins(found: Backend) -> AsyncIterator[Backend]:
    try:
        yield found
    finally:
        for admin in found.admins:
            await admin.close()


@pytest.fixture(params=["local", "azure"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "local":
        async with closing_admins(local_backend(tmp_path / "index.sqlite")) as found:
            yield found
        return
    with FakeSearchServer() as server:
        async with closing_admins(azure_backend(server)) as found:
            yield found


@pytest.fixture
async def on_azure() -> AsyncIterator[Backend]:
    with FakeSearchServer() as server:
        async with closing_admins(azure_backend(server)) as found:
            yield found


async def add_ready(admin: IndexAdmin, *names: str) -> None:
    for name in names:
        await admin.create_index(CONFIG.definition(1, name), version=1)
        await admin.mark_ready(name)


async def three_indexes(admin: IndexAdmin) -> None:
    """grounding-v3 live behind the alias, grounding-v3-r2 and -r3 ready beside it."""
    await lifecycle.apply(admin, CONFIG)
    await add_ready(admin, R2, R3)


def plan_then_another_admin_moves_the_alias(other: Callable[[], IndexAdmin]) -> Callable[..., object]:
    """``migrate.plan_migration``, after which another process (an admin from ``other``) creates R2 and points the
    alias at it: the migration's swap must then find the alias moved."""
    real_plan = migrate_module.plan_migration

    async def plan(admin, config, **kwargs):  # type: ignore[no-untyped-def]
        planned = await real_plan(admin, config, **kwargs)
        mover = other()
        try:
            await add_ready(mover, R2)
            await mover.set_alias(R2)
        finally:
            await mover.close()
        return planned

    return plan


def by_name(indexes: list[PhysicalIndex]) -> dict[str, PhysicalIndex]:
    return {index.name: index for index in indexes}


# ---- the contract, on both backends -------------------------------------------------------------------------------


async def test_a_swap_that_finds_what_it_expects_moves_the_alias_and_retires_the_previous_index(
    backend: Backend,
) -> None:
    await three_indexes(backend.admin)
    etag = backend.server.aliases[ALIAS]["@odata.etag"] if backend.server else None
    await backend.admin.set_alias(R2, expected=V1)
    assert backend.stored() == R2 and await backend.admin.get_alias() == R2
    indexes = by_name(await backend.admin.list_indexes())
    assert indexes[V1].retired_at is not None and indexes[R2].retired_at is None
    if backend.server is not None:
        assert backend.server.aliases[ALIAS]["@odata.etag"] != etag  # every write gives the alias a new ETag


async def test_a_swap_that_finds_another_target_raises_and_changes_nothing(backend: Backend) -> None:
    await three_indexes(backend.admin)
    await backend.admin.set_alias(R2, expected=V1)
    before = await backend.admin.list_indexes()
    with pytest.raises(AliasConflict) as caught:
        await backend.admin.set_alias(R3, expected=V1)  # planned against v1, but r2 is live now
    message = str(caught.value)
    assert "\n" not in message and all(name in message for name in (ALIAS, V1, R2, R3))
    assert (caught.value.expected, caught.value.found, caught.value.target) == (V1, R2, R3)
    assert isinstance(caught.value, ConflictError) and not isinstance(caught.value, ConfigurationError)
    with pytest.raises(AliasConflict, match=f"points at {R2}, not nothing"):
        await backend.admin.set_alias(R3, expected=None)  # "no alias yet" while one exists
    assert backend.stored() == R2 and await backend.admin.list_indexes() == before


async def test_expected_none_creates_the_alias_only_when_there_is_none(backend: Backend) -> None:
    await add_ready(backend.admin, V1, R2)
    await backend.admin.set_alias(V1, expected=None)
    assert backend.stored() == V1
    with pytest.raises(AliasConflict, match=f"points at {V1}"):
        await backend.admin.set_alias(R2, expected=None)
    assert backend.stored() == V1
    await backend.admin.set_alias(R2)  # without `expected`, the swap is unconditional as before
    assert backend.stored() == R2


async def test_of_two_concurrent_swaps_from_the_same_index_exactly_one_wins(backend: Backend) -> None:
    await three_indexes(backend.admin)
    first, second = backend.admin, backend.other()  # another process on the same store
    outcomes = await asyncio.gather(
        first.set_alias(R2, expected=V1), second.set_alias(R3, expected=V1), return_exceptions=True
    )
    winners = [target for target, outcome in zip((R2, R3), outcomes, strict=True) if outcome is None]
    conflicts = [outcome for outcome in outcomes if isinstance(outcome, AliasConflict)]
    assert len(winners) == 1 and len(conflicts) == 1, outcomes
    assert backend.stored() == winners[0] and conflicts[0].found == winners[0]


# ---- Azure: the service's optimistic concurrency ------------------------------------------------------------------


def alias_writes(server: FakeSearchServer) -> list[int]:
    return [r.status for r in server.records if r.kind == "aliases" and r.method in ("PUT", "POST")]


async def test_a_write_between_the_read_and_the_swap_gets_412_and_an_alias_conflict(
    on_azure: Backend,
) -> None:
    backend, service = on_azure, on_azure.service
    await three_indexes(backend.admin)
    before, writes = await backend.admin.list_indexes(), len(alias_writes(service))
    service.move_alias_after_read(ALIAS, R3)  # someone else's PUT lands right after our GET of the alias
    with pytest.raises(AliasConflict) as caught:
        await backend.admin.set_alias(R2, expected=V1)
    assert (caught.value.expected, caught.value.found) == (V1, R3)
    assert alias_writes(service)[writes:] == [412]  # our If-Match carried the ETag we read: refused
    assert service.aliases[ALIAS]["indexes"] == [R3]
    assert await backend.admin.list_indexes() == before  # no bookkeeping written either


async def test_an_alias_created_between_the_read_and_the_create_gets_412(
    on_azure: Backend,
) -> None:
    backend, service = on_azure, on_azure.service
    await add_ready(backend.admin, V1, R2)
    service.move_alias_after_read(ALIAS, V1)  # our GET finds no alias; then someone else creates it
    with pytest.raises(AliasConflict) as caught:
        await backend.admin.set_alias(R2, expected=None)
    assert (caught.value.expected, caught.value.found) == (None, V1)
    assert alias_writes(service) == [412]  # If-None-Match: *
    assert service.aliases[ALIAS]["indexes"] == [V1]


async def test_a_rollback_refuses_when_the_alias_moved_after_it_read_it(
    on_azure: Backend,
) -> None:
    backend, service = on_azure, on_azure.service
    await three_indexes(backend.admin)
    await backend.admin.set_alias(R2, expected=V1)  # v1 retired: what rollback goes back to
    service.move_alias_after_read(ALIAS, R3)
    with pytest.raises(AliasConflict, match=f"points at {R3}, not {R2}"):
        await lifecycle.rollback(backend.admin, CONFIG)
    assert service.aliases[ALIAS]["indexes"] == [R3]


# ---- migrations whose live index someone else moved ---------------------------------------------------------------


async def test_a_migration_planned_against_an_index_that_is_no_longer_live_does_not_swap(
    env: Env,  # noqa: F811
    v4: int,
) -> None:
    await env.ingest()
    await lifecycle.apply(env.admin, env.config())
    mine = await plan_migration(env.admin, env.config(), version=v4)  # two migrations planned against v1 ...
    theirs = await plan_migration(env.admin, env.config(), version=2)
    embedder = Embedder()

    def pipeline_for(index, schema_version, live):  # type: ignore[no-untyped-def]
        return wiring.build_pipeline(
            env.settings, index=index, embedder=embedder, schema_version=schema_version, reuse_from=live
        )

    source = LocalFolderSource(env.root)
    done = await migrate_module.migrate(env.admin, env.config(), theirs, source=source, pipeline_for=pipeline_for)
    assert done.swapped and await env.admin.get_alias() == "grounding-v2"  # ... the other one swapped first

    result = await migrate_module.migrate(env.admin, env.config(), mine, source=source, pipeline_for=pipeline_for)

    assert result.verification.ok and not result.swapped
    assert result.conflict is not None and (result.conflict.expected, result.conflict.found) == (V1, "grounding-v2")
    assert result.as_dict()["alias_target"] == "grounding-v2" and result.as_dict()["conflict"] == str(result.conflict)
    assert await env.admin.get_alias() == "grounding-v2"
    assert await env.names() == {V1: (3, "ready"), "grounding-v2": (2, "ready"), "grounding-v4": (4, "building")}
    assert await env.search("ninety days") == ("grounding-v2", ["keys.md"])


def test_schema_migrate_exits_1_when_someone_else_moved_the_alias(
    cli_env: Path,  # noqa: F811
    v4: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert main_ok(capsys, "schema", "apply", "--json")
    path = Path(Settings.from_env().local_index_path)
    real_plan = migrate_module.plan_migration
    moving = plan_then_another_admin_moves_the_alias(lambda: LocalIndexAdmin(path, ALIAS))
    monkeypatch.setattr(migrate_module, "plan_migration", moving)
    code, out = run_cli(capsys, "schema", "migrate", str(cli_env), "--to", "4")
    assert code == 1
    assert f"NOT swapped: alias {ALIAS} points at {R2}, not {V1} as expected" in str(out)
    assert "grounding-v4 kept building" in str(out)
    monkeypatch.setattr(migrate_module, "plan_migration", real_plan)
    code, status = run_cli(capsys, "schema", "status", "--json")
    assert status["alias_target"] == R2  # type: ignore[index]
    states = {index["name"]: index["state"] for index in status["indexes"]}  # type: ignore[index]
    assert states == {V1: "ready", "grounding-v4": "building"}


def test_schema_migrate_on_azure_exits_1_and_leaves_the_service_alias_alone(
    azure: tuple[Path, FakeSearchServer],
    v4: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, server = azure
    assert main_ok(capsys, "schema", "apply", "--json")
    moving = plan_then_another_admin_moves_the_alias(
        lambda: AzureIndexAdmin(server.url, ALIAS, credential=AzureKeyCredential(server.api_key))
    )
    monkeypatch.setattr(migrate_module, "plan_migration", moving)
    code, done = run_cli(capsys, "schema", "migrate", str(root), "--to", "4", "--json")
    assert code == 1 and isinstance(done, dict)
    assert (done["swapped"], done["alias_target"], done["verification"]["ok"]) == (False, R2, True)
    assert done["conflict"].startswith(f"alias {ALIAS} points at {R2}, not {V1} as expected")
    assert server.aliases[ALIAS]["indexes"] == [R2]
    meta = json.loads(server.indexes["grounding-v4"].definition["description"])["ingestion"]
    assert meta["state"] == "building"


def main_ok(capsys: pytest.CaptureFixture[str], *argv: str) -> bool:
    code, _ = run_cli(capsys, *argv)
    return code == 0


async def test_a_functions_migration_run_ends_with_the_conflict_when_the_alias_moved(
    env: Env,  # noqa: F811
    v4: int,
) -> None:
    await env.ingest()
    await lifecycle.apply(env.admin, env.config())
    main = wiring.build_pipeline(env.settings, embedder=Embedder())

    followed: list[Pipeline] = []

    async def follow_alias() -> Pipeline:  # the process's main pipeline, on the alias's target after a swap
        followed.append(wiring.build_pipeline(env.settings, embedder=Embedder()))
        return followed[-1]

    migrations = Migrations(admin=env.admin, config=env.config(), follow_alias=follow_alias)
    source = LocalFolderSource(env.root)
    try:
        target, planned = await migrations.prepare(v4)
        assert planned == V1  # recorded in the run: the cutover requires the alias still there
        built = await (await migrations.pipeline(main, target, v4)).run(source)  # the run's document messages
        assert (target, built.failed) == ("grounding-v4", 0)
        await add_ready(env.admin, R2)
        await env.admin.set_alias(R2)  # someone else moved the alias before the run finalized
        now = datetime.now(UTC)
        run = RunRecord(
            run_id="r1", status=RunStatus.FINALIZING, trigger="http", scope=source.scope, index_name=target,
            started_at=now, updated_at=now, expected=len(TOPICS), target_version=v4, planned_live=planned,
        )  # fmt: skip

        note = await migrations.cut_over(run, main=main, source=source)

        conflict = AliasConflict(ALIAS, expected=V1, found=R2, target=target)
        assert note == f"not swapped, grounding-v4 kept building: {conflict}"
        assert await env.admin.get_alias() == R2 and not followed
        states = {i.name: i.state for i in await env.admin.list_indexes()}
        assert states == {V1: IndexState.READY, R2: IndexState.READY, "grounding-v4": IndexState.BUILDING}

        # The next migration run resumes the target against the index that is live now, and swaps.
        assert await migrations.prepare(v4) == (target, R2)
        resumed = await migrations.pipeline(main, target, v4)
        assert resumed.reuse_from is not None and resumed.reuse_from.name == R2
        assert (await resumed.run(source)).failed == 0
        assert await migrations.cut_over(replace(run, run_id="r2", planned_live=R2), main=main, source=source) is None
        assert await env.admin.get_alias() == target and [p.index.name for p in followed] == [target]
    finally:
        await migrations.close()
        for pipeline in (main, *followed):
            await pipeline.close()


async def test_a_functions_migration_run_checks_the_live_index_it_was_planned_against(
    env: Env,  # noqa: F811
    v4: int,
) -> None:
    """The alias moves before any document is processed: the run's pipeline then reuses vectors from the new live
    index, but the cutover still compares with the index recorded when the run was planned."""
    await env.ingest()
    await lifecycle.apply(env.admin, env.config())
    main = wiring.build_pipeline(env.settings, embedder=Embedder())

    async def follow_alias() -> Pipeline:
        raise AssertionError("the alias must not move to the run's target")

    migrations = Migrations(admin=env.admin, config=env.config(), follow_alias=follow_alias)
    source = LocalFolderSource(env.root)
    try:
        target, planned = await migrations.prepare(v4)
        await add_ready(env.admin, R2)
        await env.admin.set_alias(R2)  # moved before the run's first document
        pipeline = await migrations.pipeline(main, target, v4)
        assert pipeline.reuse_from is not None and pipeline.reuse_from.name == R2
        assert (await pipeline.run(source)).failed == 0
        now = datetime.now(UTC)
        run = RunRecord(
            run_id="r1", status=RunStatus.FINALIZING, trigger="http", scope=source.scope, index_name=target,
            started_at=now, updated_at=now, expected=len(TOPICS), target_version=v4, planned_live=planned,
        )  # fmt: skip
        note = await migrations.cut_over(run, main=main, source=source)
        assert note is not None and f"points at {R2}, not {V1} as expected" in note
        assert await env.admin.get_alias() == R2
    finally:
        await migrations.close()
        await main.close()
