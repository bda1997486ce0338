"""Versioned schemas on Azure AI Search (the fake service, through the real SDK): the ``schema`` command line creates
``<alias>-v<N>`` and the alias, migrates with vector reuse and an alias swap, rolls back, and retention-gated gc."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken

import index_schemas
from ingestion import wiring
from ingestion.cli import main
from ingestion.deployment import lifecycle, target
from ingestion.deployment.migrate import migrate, plan_migration
from ingestion.errors import ConfigurationError
from ingestion.indexing.admin import IndexState
from ingestion.indexing.azure import admin as azure_admin
from ingestion.settings import Settings
from ingestion.sources.local import LocalFolderSource
from tests.integration.conftest import TOKEN
from tests.integration.test_schema_local import Embedder
from tests.support.schema_versions import TOPICS

ALIAS = "grounding"


class SyncToken:
    """A synchronous token credential handing out one fixed token (as ``DefaultAzureCredential`` does in Azure)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken(self.token, 4_000_000_000)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict | str]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if "--json" in argv else out



def test_apply_creates_v1_and_the_alias(azure, capsys: pytest.CaptureFixture[str]) -> None:
    _, server = azure
    code, _ = run_cli(capsys, "schema", "apply", "--json")
    assert code == 0
    assert server.aliases[ALIAS]["indexes"] == [f"{ALIAS}-v{index_schemas.LATEST}"]
    code, status = run_cli(capsys, "schema", "status", "--json")
    assert code == 0 and status["alias_target"] == f"{ALIAS}-v{index_schemas.LATEST}"
    assert "drift" not in status or not status["drift"] or not status["drift"].get("changes")


def test_migrate_swaps_the_alias_reuses_vectors_and_rolls_back(
    azure, v4: int, capsys: pytest.CaptureFixture[str]
) -> None:
    root, server = azure
    assert run_cli(capsys, "schema", "apply", "--json")[0] == 0
    old = server.aliases[ALIAS]["indexes"][0]
    code, done = run_cli(capsys, "schema", "migrate", str(root), "--to", "4", "--json")
    assert code == 0 and done["swapped"]
    assert server.aliases[ALIAS]["indexes"] == [f"{ALIAS}-v4"]
    assert old in server.indexes  # kept until retention
    code, back = run_cli(capsys, "schema", "rollback", "--json")
    assert code == 0 and back["to"] == old and server.aliases[ALIAS]["indexes"] == [old]
    assert run_cli(capsys, "schema", "gc", "--json") == (0, {"deleted": []})  # kept 72 hours


def test_a_field_only_migration_embeds_nothing(azure, v4: int, capsys: pytest.CaptureFixture[str]) -> None:
    root, server = azure
    assert main(["ingest", str(root), "--json"]) == 0
    capsys.readouterr()
    code, done = run_cli(capsys, "schema", "migrate", str(root), "--to", "4", "--json")
    assert code == 0 and done["swapped"] and done["run"]["tokens_embedded"] == 0
    assert server.aliases[ALIAS]["indexes"] == [f"{ALIAS}-v4"]
    code, status = run_cli(capsys, "schema", "status", "--json")
    assert code == 0 and status["alias_target"] == f"{ALIAS}-v4" and status["documents"] == len(TOPICS)
    assert run_cli(capsys, "status", "--json")[1]["index"] == f"{ALIAS}-v4"  # writers follow the alias
    code, hits = run_cli(capsys, "search", "ninety days", "--mode", "text", "--json")
    assert code == 0 and Path(hits["hits"][0]["source"]).name == "keys.md"


def test_gc_deletes_only_after_the_retention(
    azure, v4: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, server = azure
    assert main(["schema", "apply", "--json"]) == 0
    assert main(["schema", "migrate", str(root), "--to", "4", "--json"]) == 0
    capsys.readouterr()
    assert run_cli(capsys, "schema", "gc", "--json") == (0, {"deleted": []})
    monkeypatch.setenv("SCHEMA_RETENTION_HOURS", "0")
    old = f"{ALIAS}-v{index_schemas.LATEST}"
    assert run_cli(capsys, "schema", "gc", "--json") == (0, {"deleted": [old]})
    assert old not in server.indexes and server.aliases[ALIAS]["indexes"] == [f"{ALIAS}-v4"]


async def test_an_interrupted_migration_leaves_the_alias_untouched(azure, v4: int) -> None:
    root, server = azure
    settings = replace(Settings.from_env(), max_concurrency=1)
    admin = wiring.build_admin(settings)
    config = lifecycle.SchemaConfig(dimensions=384, retention=timedelta(hours=72))
    try:
        await lifecycle.apply(admin, config)
        live = f"{ALIAS}-v{index_schemas.LATEST}"
        plan = await plan_migration(admin, config, version=4)
        # Many documents are in flight at once: the failure waits so that the two embedded ones finish writing (each
        # of their two write steps may wait up to 3 s for the others in flight to join a request: shared_batches.py).
        failing = Embedder(384, fail_after=2, fail_delay=7.0)

        def pipeline_for(index, schema_version, live):  # type: ignore[no-untyped-def]
            return wiring.build_pipeline(
                settings, index=index, embedder=failing, schema_version=schema_version, reuse_from=live
            )

        with pytest.raises(ConfigurationError, match="injected"):
            await migrate(admin, config, plan, source=LocalFolderSource(root), pipeline_for=pipeline_for)
        assert server.aliases[ALIAS]["indexes"] == [live] and await admin.get_alias() == live
        states = {i.name: (i.version, i.state) for i in await admin.list_indexes()}
        assert states == {live: (index_schemas.LATEST, IndexState.READY), f"{ALIAS}-v4": (4, IndexState.BUILDING)}
        with pytest.raises(ConfigurationError, match="target of alias"):
            await admin.delete_index(live)
        assert live in server.indexes
        # Running it again resumes the same target: what it already holds is skipped, the rest embedded, then swapped.
        again = await plan_migration(admin, config, version=4)
        assert again.resume is not None and again.target == f"{ALIAS}-v4" and not again.stale
        counting = Embedder(384)

        def resumed_pipeline(index, schema_version, live):  # type: ignore[no-untyped-def]
            return wiring.build_pipeline(
                settings, index=index, embedder=counting, schema_version=schema_version, reuse_from=live
            )

        done = await migrate(admin, config, again, source=LocalFolderSource(root), pipeline_for=resumed_pipeline)
        assert done.swapped and done.verification.ok and server.aliases[ALIAS]["indexes"] == [f"{ALIAS}-v4"]
        assert done.run.unchanged == failing.calls > 0  # one embedding call per document before the failure
        assert 0 < counting.texts < done.verification.chunks
    finally:
        await admin.close()


def test_writers_resolve_the_alias_with_a_token_too(azure, v4: int, capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = azure
    with_key = Settings.from_env()
    with_token = replace(with_key, azure_search_api_key=None)
    assert azure_admin.alias_target(with_token, credential=SyncToken(TOKEN)) is None  # no alias yet
    assert run_cli(capsys, "schema", "apply", "--json")[0] == 0
    assert run_cli(capsys, "schema", "migrate", str(root), "--to", "4", "--json")[0] == 0
    assert azure_admin.alias_target(with_token, credential=SyncToken(TOKEN)) == (f"{ALIAS}-v4", 4)
    assert target.resolve_target(with_key) == target.IndexTarget(f"{ALIAS}-v4", 4)
    with pytest.raises(ConfigurationError):
        azure_admin.alias_target(with_token, credential=SyncToken("a-token-the-service-refuses"))
