"""Versioned schemas on the local store: apply in place, migrate with verification and alias swap, embedding reuse,
interrupted migrations, queries during a migration, rollback, retention, drift, and the ``schema`` command line."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import index_schemas
from index_schemas import SchemaParams, v1, v3
from index_schemas.types import IndexDefinition, IndexField
from ingestion import wiring
from ingestion.cli import main
from ingestion.deployment import lifecycle
from ingestion.deployment.estimate import estimate_migration
from ingestion.deployment.migrate import MigrationResult, migrate, plan_migration, prepare_target
from ingestion.deployment.migrate import abort as migrate_abort
from ingestion.deployment.target import find_live
from ingestion.embedding.hashing import HashEmbedder
from ingestion.errors import ConfigurationError
from ingestion.indexing.admin import IndexState
from ingestion.indexing.local.admin import LocalIndexAdmin
from ingestion.models import SearchMode, SourceItem
from ingestion.settings import Settings
from ingestion.sources.local import LocalFolderSource
from tests.support.schema_versions import TOPICS, build_v4

ALIAS = "grounding"


class Embedder:
    """The hash embedder, counting what it embeds; can fail after ``fail_after`` calls or sleep in each call."""

    def __init__(
        self, dimensions: int = 384, *, fail_after: int | None = None, delay: float = 0.0, fail_delay: float = 0.0
    ) -> None:
        self.inner = HashEmbedder(dimensions)
        self.fail_delay = fail_delay
        self.model_id, self.dimensions = self.inner.model_id, dimensions
        self.max_input_tokens = self.inner.max_input_tokens
        self.fail_after, self.delay, self.calls, self.texts = fail_after, delay, 0, 0

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.fail_after is not None and self.calls >= self.fail_after:
            await asyncio.sleep(self.fail_delay)
            raise ConfigurationError("embedding deployment refused the credential (injected)")
        self.calls += 1
        self.texts += len(texts)
        await asyncio.sleep(self.delay)
        return await self.inner.embed(texts)

    async def close(self) -> None:
        return None


class SlowSource(LocalFolderSource):
    """A folder whose reads take ``delay`` seconds, so that a migration is long enough to query through."""

    def __init__(self, root: Path, delay: float) -> None:
        super().__init__(root)
        self.delay = delay

    async def read(self, item: SourceItem, *, max_bytes: int) -> bytes:
        await asyncio.sleep(self.delay)
        return await super().read(item, max_bytes=max_bytes)


@dataclass
class Env:
    root: Path
    settings: Settings
    admin: LocalIndexAdmin

    def config(self, dimensions: int = 384, hours: int = 72) -> lifecycle.SchemaConfig:
        return lifecycle.SchemaConfig(dimensions=dimensions, retention=timedelta(hours=hours))

    async def ingest(self, embedder: Embedder | None = None) -> None:
        pipeline = wiring.build_pipeline(self.settings, embedder=embedder or Embedder())
        await pipeline.index.ensure()
        result = await pipeline.run(LocalFolderSource(self.root))
        await pipeline.close()
        assert result.failed == 0

    async def migrate(self, version: int, embedder: Embedder, **kwargs: object) -> MigrationResult:
        source = kwargs.pop("source", None) or LocalFolderSource(self.root)
        plan = await plan_migration(self.admin, self.config(embedder.dimensions), version=version)

        def pipeline_for(index, schema_version, live):  # type: ignore[no-untyped-def]
            return wiring.build_pipeline(
                self.settings, index=index, embedder=embedder, schema_version=schema_version, reuse_from=live
            )

        return await migrate(self.admin, self.config(embedder.dimensions), plan, source=source,
                             pipeline_for=pipeline_for, **kwargs)  # fmt: skip

    async def search(self, text: str, dimensions: int = 384) -> tuple[str, list[str]]:
        """What a reader sees: the index the alias resolves to now, and the hits' source file names."""
        index = wiring.build_index(self.settings, dimensions=dimensions)
        try:
            hits = await index.search(text, mode=SearchMode.TEXT, top=3)
        finally:
            await index.close()
        return index.name, [Path(h.source_path).name for h in hits]

    async def names(self) -> dict[str, tuple[int, str]]:
        return {i.name: (i.version, str(i.state)) for i in await self.admin.list_indexes()}


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    root = tmp_path / "docs"
    root.mkdir()
    for name, text in TOPICS.items():
        (root / name).write_text(text)
    settings = Settings(embedding_backend="hash", local_index_path=tmp_path / "index.sqlite")
    admin = LocalIndexAdmin(settings.local_index_path, ALIAS)
    yield Env(root, settings, admin)
    await admin.close()


def columns(env: Env, name: str) -> list[str]:
    from ingestion.indexing.local.schema import table_prefix

    with sqlite3.connect(env.settings.local_index_path) as conn:
        return [row[1] for row in conn.execute(f'PRAGMA table_info("{table_prefix(name)}_chunks")')]


# ---- apply --------------------------------------------------------------------------------------------------------


async def test_apply_creates_the_latest_version_and_the_alias_then_is_idempotent(env: Env) -> None:
    first = await lifecycle.apply(env.admin, env.config())
    assert (first.index, first.version, first.created, first.alias_set) == ("grounding-v3", 3, True, True)
    assert await env.admin.get_alias() == "grounding-v3" and await env.names() == {"grounding-v3": (3, "ready")}
    again = await lifecycle.apply(env.admin, env.config())
    assert (again.created, again.alias_set, bool(again.changes), again.deleted) == (False, False, False, [])
    status = await lifecycle.status(env.admin, env.config())
    assert (status.alias_target, status.documents, bool(status.drift)) == ("grounding-v3", 0, False)


async def test_apply_v2_in_place_keeps_serving_and_ingest_backfills_with_zero_tokens(env: Env) -> None:
    await lifecycle.apply(env.admin, env.config(), version=1)  # a deployment from before v3 was released
    await env.ingest()
    assert await env.search("ninety days") == ("grounding-v1", ["keys.md"])
    result = await lifecycle.apply(env.admin, env.config(), version=2)
    assert (result.index, result.version_before, result.version, result.alias_set) == ("grounding-v1", 1, 2, False)
    assert [(c.path, c.what) for c in result.changes.changes] == [
        ("fields.file_type", "added"),
        ("scoringProfiles.title-boost", "added"),
    ]
    assert "file_type" in columns(env, "grounding-v1")
    assert await env.search("ninety days") == ("grounding-v1", ["keys.md"])
    assert not (await lifecycle.status(env.admin, env.config())).drift

    embedder = Embedder()
    pipeline = wiring.build_pipeline(env.settings, embedder=embedder)
    rerun = await pipeline.run(LocalFolderSource(env.root))
    await pipeline.close()
    assert (rerun.updated, rerun.tokens_embedded, embedder.texts) == (len(TOPICS), 0, 0)
    with sqlite3.connect(env.settings.local_index_path) as conn:
        from ingestion.indexing.local.schema import table_prefix

        types = {row[0] for row in conn.execute(f'SELECT file_type FROM "{table_prefix("grounding-v1")}_chunks"')}
    assert types == {"md", "txt", "html"}


async def test_apply_refuses_a_rebuild_and_changes_nothing(env: Env, v4: int) -> None:
    await env.ingest()
    await lifecycle.apply(env.admin, env.config())
    before = (await env.admin.get_definition("grounding-v3")).to_wire()
    with pytest.raises(ConfigurationError, match=r"fields.source_path.facetable.*schema migrate --to 4"):
        await lifecycle.apply(env.admin, env.config(), version=v4)
    with pytest.raises(ConfigurationError, match=r"fields.embedding.dimensions: 384 -> 256.*migrate"):
        await lifecycle.apply(env.admin, env.config(dimensions=256))
    assert (await env.admin.get_definition("grounding-v3")).to_wire() == before
    assert await env.names() == {"grounding-v3": (3, "ready")}


def build_v5(params: SchemaParams) -> IndexDefinition:
    """An IN PLACE change that touches full-text search: a new searchable field."""
    index = v3.build(params)
    summary = IndexField("summary", "Edm.String", searchable=True, analyzer=v1.ANALYZER)
    return replace(index, fields=(*index.fields, summary))


def v5_document(record, chunk):  # type: ignore[no-untyped-def]
    return {**v3.to_document(record, chunk), "summary": f"digest of {Path(chunk.source_path).stem}"}


async def test_an_added_searchable_field_rebuilds_full_text_in_place(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(index_schemas.VERSIONS, 5, build_v5)
    monkeypatch.setitem(index_schemas.TO_DOCUMENT, 5, v5_document)
    await env.ingest()
    result = await lifecycle.apply(env.admin, env.config(), version=5)
    assert [(c.path, str(c.kind)) for c in result.changes.changes] == [("fields.summary", "in place")]
    from ingestion.indexing.local.schema import table_prefix

    with sqlite3.connect(env.settings.local_index_path) as conn:
        fts = [row[1] for row in conn.execute(f'PRAGMA table_info("{table_prefix("grounding-v3")}_fts")')]
    assert fts == ["title", "content", "summary"]
    assert await env.search("ninety days") == ("grounding-v3", ["keys.md"])  # old rows were re-indexed for FTS
    assert (await env.search("digest"))[1] == []
    await env.ingest()
    assert len((await env.search("digest"))[1]) == 3  # top 3 of the six documents now holding a summary


async def test_the_local_admin_refuses_what_the_service_would(env: Env, v4: int) -> None:
    await lifecycle.apply(env.admin, env.config())
    definition = await env.admin.get_definition("grounding-v3")
    with pytest.raises(ConfigurationError, match="already exists"):
        await env.admin.create_index(definition, version=3)
    with pytest.raises(ConfigurationError, match="target of alias grounding"):
        await env.admin.delete_index("grounding-v3")
    with pytest.raises(ConfigurationError, match="no such local index"):
        await env.admin.set_alias("grounding-v7")
    v4_definition = build_v4(SchemaParams("grounding-v3", 384))
    with pytest.raises(ConfigurationError, match="cannot be applied in place"):
        await env.admin.update_index(v4_definition, version=v4)
    with pytest.raises(ConfigurationError, match="fields differ"):
        await env.admin.update_index(v4_definition, version=2)
    assert await env.admin.delete_index("grounding-v9") is False
    assert await env.names() == {"grounding-v3": (3, "ready")}


# ---- migrate ------------------------------------------------------------------------------------------------------


async def test_a_field_only_rebuild_embeds_zero_tokens_and_swaps_the_alias(env: Env, v4: int) -> None:
    await env.ingest()
    estimate = await dry_run(env, v4, Embedder())
    assert (estimate.tokens, estimate.reembed_all, estimate.read, estimate.chunks) == (0, False, 0, len(TOPICS))
    assert await env.names() == {"grounding-v3": (3, "ready")}  # the dry run changed nothing

    embedder = Embedder()
    result = await env.migrate(v4, embedder)
    assert result.swapped and result.verification.ok, result.verification.problems
    assert (result.run.added, result.run.tokens_embedded, embedder.texts) == (len(TOPICS), 0, 0)
    assert (result.verification.documents, result.verification.chunks) == (len(TOPICS), len(TOPICS))
    assert await env.admin.get_alias() == "grounding-v4"
    assert await env.search("ninety days") == ("grounding-v4", ["keys.md"])
    indexes = {i.name: i for i in await env.admin.list_indexes()}
    assert indexes["grounding-v3"].retired_at is not None and indexes["grounding-v4"].state is IndexState.READY


async def test_a_dimension_change_reembeds_everything_and_the_estimate_says_so(env: Env) -> None:
    await env.ingest()
    estimate = await dry_run(env, 3, Embedder(256))
    assert estimate.reembed_all and estimate.read == len(TOPICS) and estimate.reused_chunks == 0
    embedder = Embedder(256)
    result = await env.migrate(3, embedder)
    assert result.swapped and result.plan.target == "grounding-v3-r2"  # a rebuild of the same version
    assert result.run.tokens_embedded == estimate.tokens > 0 and embedder.texts == len(TOPICS)
    assert await env.search("ninety days", dimensions=256) == ("grounding-v3-r2", ["keys.md"])


async def test_an_interrupted_migration_leaves_the_alias_and_resumes(env: Env) -> None:
    await env.ingest()
    await lifecycle.apply(env.admin, env.config())
    # The third embedding fails: at most the two documents embedded before it are in the build (several documents are
    # in flight at once, so the failure may stop one of them before it is written).
    failing = Embedder(256, fail_after=2)
    with pytest.raises(ConfigurationError, match="injected"):
        await env.migrate(3, failing)
    assert await env.admin.get_alias() == "grounding-v3"
    assert await env.search("ninety days") == ("grounding-v3", ["keys.md"])
    assert await env.names() == {"grounding-v3": (3, "ready"), "grounding-v3-r2": (3, "building")}
    partial = env.admin.open_index((await env.admin.list_indexes())[1])
    built = (await partial.stats()).documents
    assert 0 <= built <= 2
    await partial.close()

    plan = await plan_migration(env.admin, env.config(256), version=3)
    assert plan.resume is not None and plan.target == "grounding-v3-r2"
    resumed = Embedder(256)
    result = await env.migrate(3, resumed)
    assert result.swapped and result.plan.resume is not None
    assert (result.run.unchanged, result.run.added) == (built, len(TOPICS) - built)  # what the build already held
    assert resumed.texts == len(TOPICS) - built  # only what the build lacked is embedded again
    assert await env.admin.get_alias() == "grounding-v3-r2"


async def test_a_crash_between_the_swap_and_the_ready_mark_heals_on_the_next_read(env: Env, v4: int) -> None:
    await env.ingest()
    await lifecycle.apply(env.admin, env.config())
    plan = await plan_migration(env.admin, env.config(), version=4)
    target = await prepare_target(env.admin, env.config(), plan)
    await env.admin.set_alias(target.name, expected="grounding-v3")  # the swap happened; the ready mark did not
    assert (await env.names())["grounding-v4"] == (4, "building")
    live = await find_live(env.admin)
    assert live is not None and (live.name, live.state) == ("grounding-v4", IndexState.READY)
    assert (await env.names())["grounding-v4"] == (4, "ready")
    assert await migrate_abort(env.admin) == []  # nothing unfinished left to delete


async def test_a_cancelled_migration_leaves_the_alias_untouched(env: Env, v4: int) -> None:
    await env.ingest()
    task = asyncio.create_task(env.migrate(v4, Embedder(), source=SlowSource(env.root, delay=1.0)))
    while "grounding-v4" not in await env.names():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    assert not task.done()
    task.cancel()  # what a killed process leaves behind, short of the file itself
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await env.search("ninety days") == ("grounding-v3", ["keys.md"])
    assert (await env.names())["grounding-v4"] == (4, "building")
    assert await migrate_abort(env.admin) == ["grounding-v4"]  # `schema migrate --abort`
    assert await env.names() == {"grounding-v3": (3, "ready")}


async def test_queries_through_the_alias_work_during_the_whole_migration(env: Env, v4: int) -> None:
    await env.ingest()
    await lifecycle.apply(env.admin, env.config())
    task = asyncio.create_task(env.migrate(v4, Embedder(), source=SlowSource(env.root, delay=0.2)))
    seen: list[str] = []
    while not task.done():
        name, hits = await env.search("invoices finance mailbox")
        assert hits == ["invoices.txt"]
        seen.append(name)
        await asyncio.sleep(0.01)
    assert (await task).swapped
    seen.append((await env.search("invoices finance mailbox"))[0])
    assert seen.count("grounding-v3") >= 5 and seen[-1] == "grounding-v4"
    assert seen == sorted(seen)  # never back to the old index once swapped


async def test_verification_refuses_failures_and_documents_outside_the_source(env: Env, v4: int) -> None:
    await env.ingest()
    other = env.root.parent / "other"
    other.mkdir()
    (other / "extra.md").write_text("# Extra\n\nAn extra document from another folder.\n")
    pipeline = wiring.build_pipeline(env.settings, embedder=Embedder())
    await pipeline.run(LocalFolderSource(other))
    await pipeline.close()
    (env.root / "broken.pdf").write_bytes(b"this is not a pdf")

    result = await env.migrate(v4, Embedder())
    assert not result.swapped and await env.admin.get_alias() is None
    assert result.verification.outside_scope == 1 and result.verification.failed == 1
    assert len(result.verification.problems) == 2
    assert await env.search("extra document") == ("grounding-v3", ["extra.md"])

    accepted = await env.migrate(v4, Embedder(), max_failures=1, allow_outside_scope=True)
    assert accepted.swapped and accepted.plan.resume is not None
    assert await env.search("extra document") == ("grounding-v4", [])
    assert (await env.admin.list_indexes())[0].retired_at is not None  # the fallback index is retired, and kept


# ---- rollback, retention, drift -----------------------------------------------------------------------------------


async def test_rollback_and_retention(env: Env, v4: int) -> None:
    await env.ingest()
    await env.migrate(v4, Embedder())
    swapped = await lifecycle.rollback(env.admin, env.config())
    assert swapped == {"alias": ALIAS, "from": "grounding-v4", "to": "grounding-v3", "version": 3}
    assert await env.search("ninety days") == ("grounding-v3", ["keys.md"])
    assert await lifecycle.collect_garbage(env.admin, env.config()) == []
    later = datetime.now(UTC) + timedelta(hours=73)
    assert await lifecycle.collect_garbage(env.admin, env.config(), now=later) == ["grounding-v4"]
    assert await env.names() == {"grounding-v3": (3, "ready")}
    with pytest.raises(ConfigurationError, match="no earlier ready index"):
        await lifecycle.rollback(env.admin, env.config())
    assert columns(env, "grounding-v4") == []  # its tables are gone


async def test_rollback_refuses_other_dimensions_unless_forced(env: Env) -> None:
    await env.ingest()
    await env.migrate(1, Embedder(256))
    with pytest.raises(ConfigurationError, match="384-dimension"):
        await lifecycle.rollback(env.admin, env.config(dimensions=256))
    assert (await lifecycle.rollback(env.admin, env.config(dimensions=256), force=True))["to"] == "grounding-v3"


async def test_status_reports_drift_and_apply_repairs_what_is_in_place(env: Env) -> None:
    await lifecycle.apply(env.admin, env.config(), version=2)
    edited = (await env.admin.get_definition("grounding-v2")).to_wire()
    edited["scoringProfiles"] = []  # someone removed the profile by hand
    with sqlite3.connect(env.settings.local_index_path) as conn:
        conn.execute("UPDATE index_meta SET definition = ? WHERE name = ?", (json.dumps(edited), "grounding-v2"))
    status = await lifecycle.status(env.admin, env.config())
    assert [(c.path, c.what, str(c.kind)) for c in status.drift.changes] == [
        ("scoringProfiles.title-boost", "added", "in place")
    ]
    assert [c.path for c in (await lifecycle.status(env.admin, env.config(dimensions=256))).drift.rebuild] == [
        "fields.embedding.dimensions"
    ]
    await lifecycle.apply(env.admin, env.config())  # the live index is v2: apply keeps it there, no downgrade
    assert not (await lifecycle.status(env.admin, env.config())).drift


async def dry_run(env: Env, version: int, embedder: Embedder):  # type: ignore[no-untyped-def]
    plan = await plan_migration(env.admin, env.config(embedder.dimensions), version=version)
    live = env.admin.open_index(plan.live) if plan.live else None
    pipeline = wiring.build_pipeline(env.settings, embedder=embedder, schema_version=version)
    try:
        return await estimate_migration(
            pipeline,
            LocalFolderSource(env.root),
            live=live,
            live_version=plan.live.version if plan.live else None,
            live_dimensions=plan.live.dimensions if plan.live else None,
            price=0.02,
        )
    finally:
        await pipeline.index.close()
        if live is not None:
            await live.close()


# ---- command line -------------------------------------------------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict | str]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if "--json" in argv else out


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("AZURE_OPENAI_ENDPOINT", "AZURE_SEARCH_ENDPOINT", "DOCUMENTINTELLIGENCE_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EMBEDDING_BACKEND", "hash")
    monkeypatch.setenv("LOCAL_INDEX_PATH", str(tmp_path / "cli.sqlite"))
    root = tmp_path / "docs"
    root.mkdir()
    for name, text in TOPICS.items():
        (root / name).write_text(text)
    return root


def test_the_schema_command_line(cli_env: Path, v4: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(cli_env), "--json"]) == 0
    capsys.readouterr()
    code, diff = run_cli(capsys, "schema", "diff", "live", "4", "--json")
    assert code == 0 and diff["kind"] == "rebuild"
    assert run_cli(capsys, "schema", "apply", "--to", "4")[0] == 2  # refused: needs migrate
    assert run_cli(capsys, "schema", "migrate", "--to", "4")[0] == 2  # no source given
    code, dry = run_cli(capsys, "schema", "migrate", str(cli_env), "--to", "4", "--dry-run", "--json")
    assert code == 0 and dry["estimate"]["tokens_to_embed"] == 0 and dry["plan"]["target"] == "grounding-v4"
    code, done = run_cli(capsys, "schema", "migrate", str(cli_env), "--to", "4", "--json")
    assert code == 0 and done["swapped"] and done["run"]["tokens_embedded"] == 0
    code, status = run_cli(capsys, "schema", "status", "--json")
    assert code == 0 and status["alias_target"] == "grounding-v4" and status["documents"] == len(TOPICS)
    code, hits = run_cli(capsys, "search", "ninety days", "--mode", "text", "--json")
    assert code == 0 and Path(hits["hits"][0]["source"]).name == "keys.md"
    assert run_cli(capsys, "status", "--json")[1]["index"] == "grounding-v4"
    code, back = run_cli(capsys, "schema", "rollback", "--json")
    assert code == 0 and back["to"] == "grounding-v3"
    code, text = run_cli(capsys, "schema", "status")
    assert code == 0 and "alias grounding -> grounding-v3" in text and "grounding-v4: schema v4, ready" in text
    code, migrated_again = run_cli(capsys, "schema", "migrate", str(cli_env), "--to", "3", "--json")
    assert code == 0 and migrated_again["plan"]["up_to_date"]
    assert run_cli(capsys, "schema", "gc", "--json") == (0, {"deleted": []})  # kept 72 hours


def test_gc_from_the_command_line_honours_the_retention(
    cli_env: Path, v4: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["ingest", str(cli_env), "--json"]) == 0
    assert main(["schema", "migrate", str(cli_env), "--to", "4", "--json"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("SCHEMA_RETENTION_HOURS", "0")
    assert run_cli(capsys, "schema", "gc", "--json") == (0, {"deleted": ["grounding-v3"]})
    code, status = run_cli(capsys, "schema", "status", "--json")
    assert code == 0 and status["alias_target"] == "grounding-v4" and status["indexes"] == []


def test_status_exits_1_on_drift(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "schema", "apply", "--json")[0] == 0
    with sqlite3.connect(Settings.from_env().local_index_path) as conn:
        conn.execute("UPDATE index_meta SET definition = json_set(definition, '$.description', 'hand edit')")
    code, status = run_cli(capsys, "schema", "status", "--json")
    assert code == 1 and status["drift"]["changes"][0]["path"] == "description"


def test_the_migration_failure_allowance_comes_from_the_setting_unless_given(
    cli_env: Path, v4: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["ingest", str(cli_env), "--json"]) == 0
    (cli_env / "broken.pdf").write_bytes(b"\x01" + bytes(range(256)) * 16)  # bad input: fails in every run
    capsys.readouterr()
    code, refused = run_cli(capsys, "schema", "migrate", str(cli_env), "--to", "4", "--json")
    assert code == 1 and not refused["swapped"] and refused["verification"]["failed"] == 1  # default: none allowed
    monkeypatch.setenv("SCHEMA_MIGRATION_MAX_FAILURES", "1")
    code, strict = run_cli(capsys, "schema", "migrate", str(cli_env), "--to", "4", "--max-failures", "0", "--json")
    assert code == 1 and not strict["swapped"]  # the flag wins over the setting
    code, done = run_cli(capsys, "schema", "migrate", str(cli_env), "--to", "4", "--json")
    assert code == 0 and done["swapped"] and done["plan"]["resume"]
