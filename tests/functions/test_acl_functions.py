"""Done-when of issue 12 through the Functions app (real handlers, real Azurite, the host's delivery rules): a blob
with ``groups=g1`` is found with ``g1`` and never with ``g2``; setting its metadata to ``groups=g2`` alone flips that
on the scheduled reindex, or at once with ``POST /api/reindex {"path": ...}`` (or ``{"prefix": ...}``), with zero
tokens embedded; a blob without ACL follows ``ACL_DEFAULT``."""

from __future__ import annotations

import json
from collections.abc import Sequence

import azure.functions as func
import numpy as np
import pytest
from azure.functions.timer import TimerRequest

from ingestion.acl import Principal
from ingestion.deployment import lifecycle
from ingestion.embedding.hashing import HashEmbedder
from ingestion.errors import ConfigurationError
from ingestion.functions import blobs, http, reindex
from ingestion.functions.services import build_services, get_services, set_services
from ingestion.models import SearchMode
from ingestion.settings import Settings
from ingestion.wiring import build_admin, build_pipeline
from tests.functions.conftest import AppEnv
from tests.functions.host import FunctionsHost, blob_client

pytestmark = pytest.mark.azurite


class CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return await super().embed(texts)


async def start(embedder: CountingEmbedder) -> None:
    settings = Settings.from_env()
    set_services(await build_services(settings, pipeline=build_pipeline(settings, embedder=embedder)))


async def visible(*groups: str, user: str | None = None) -> set[str]:
    index = (await get_services()).pipeline.index
    principal = Principal.of(user, groups)
    found = []
    for mode in (SearchMode.TEXT, SearchMode.HYBRID, SearchMode.VECTOR):
        hits = await index.search("zebra", vector=np.ones(384), mode=mode, top=20, principal=principal)
        found.append({hit.source_path for hit in hits})
    assert found[0] == found[1] == found[2], found
    return {path.split("/", 1)[1] for path in found[0]}


async def upload(host: FunctionsHost, name: str, text: str, **metadata: str) -> None:
    await host.container.upload_blob(name, text, overwrite=True, metadata=metadata or None)
    await blobs.ingest_blob(blob_client(host.container.container_name, name))  # the blob trigger


async def post(body: dict[str, object]) -> tuple[int, dict]:
    request = func.HttpRequest(method="POST", url="/api/reindex", body=json.dumps(body).encode())
    response = await http.reindex_now(request)
    return response.status_code, json.loads(response.get_body())


async def test_groups_metadata_flips_visibility_on_the_scheduled_reindex_with_zero_tokens(
    app_env: AppEnv, host: FunctionsHost
) -> None:
    embedder = CountingEmbedder()
    await start(embedder)
    await upload(host, "plans/q1.md", "# Q1\n\nThe zebra plan for the first quarter.\n", groups="g1")
    await upload(host, "wiki/home.md", "# Home\n\nA zebra greets every visitor.\n")
    assert await visible("g1") == {"plans/q1.md", "wiki/home.md"}
    assert await visible("g2") == {"wiki/home.md"}  # no ACL: ACL_DEFAULT=public

    embedded = len(embedder.texts)
    await host.container.get_blob_client("plans/q1.md").set_blob_metadata({"groups": "g2"})  # no event for this
    await reindex.reindex_timer(TimerRequest(past_due=False))
    assert await host.drain(reindex.reindex_worker) == []
    report = json.loads((await http.run_status(func.HttpRequest(method="GET", url="/api/status", body=b""))).get_body())
    last = report["last"]
    assert (last["status"], last["updated"], last["unchanged"], last["failed"]) == ("done", 1, 1, 0)
    assert len(embedder.texts) == embedded  # tokens_embedded 0: the ACL was merged, nothing re-embedded
    assert await visible("g1") == {"wiki/home.md"}
    assert await visible("g2") == {"plans/q1.md", "wiki/home.md"}


async def test_post_reindex_with_a_path_or_prefix_applies_an_acl_change_at_once(
    app_env: AppEnv, host: FunctionsHost
) -> None:
    embedder = CountingEmbedder()
    await start(embedder)
    await upload(host, "hr/pay.md", "# Pay\n\nThe zebra pay bands.\n", groups="hr")
    await upload(host, "hr/leave.md", "# Leave\n\nZebra leave rules.\n", groups="hr")
    await upload(host, "ops/run.md", "# Run\n\nThe zebra runbook.\n", groups="ops")
    embedded = len(embedder.texts)

    await host.container.get_blob_client("hr/pay.md").set_blob_metadata({"groups": "board"})
    code, body = await post({"path": "hr/pay.md"})
    assert code == 200
    assert body == {"path": f"{app_env.container}/hr/pay.md", "outcome": "updated", "chunks": 1,
                    "tokens_embedded": 0, "error": None}  # fmt: skip
    assert await visible("hr") == {"hr/leave.md"} and await visible("board") == {"hr/pay.md"}

    await host.container.get_blob_client("hr/leave.md").set_blob_metadata({"groups": "board"})
    await host.container.get_blob_client("ops/run.md").set_blob_metadata({"groups": "board"})  # outside the prefix
    await host.container.upload_blob("hr/new.md", "# New\n\nA zebra joins.\n", metadata={"groups": "board"})
    code, body = await post({"prefix": "hr/"})
    assert code == 202 and body["started"]
    assert await host.drain(reindex.reindex_worker) == []
    run = await (await get_services()).reindexer.store.get(body["run"])
    assert run is not None and run.scope.endswith(f"/{app_env.container}/hr/")
    assert (run.expected, run.count("added"), run.count("updated"), run.count("unchanged")) == (3, 1, 1, 1)
    assert await visible("board") == {"hr/pay.md", "hr/leave.md", "hr/new.md"}  # ops/run.md not refreshed yet
    assert await visible("ops") == {"ops/run.md"}
    assert len(embedder.texts) == embedded + 1  # only the new blob was embedded

    await host.delete("hr/pay.md")
    code, body = await post({"path": "hr/pay.md"})  # a refresh of a deleted blob removes it
    assert (code, body["outcome"]) == (200, "deleted")
    assert await visible("board") == {"hr/leave.md", "hr/new.md"}

    code, prefix_run = await post({"prefix": "ops/"})
    code, full = await post({})  # a full-run request never joins an open prefix run: it starts its own
    assert code == 202 and full["started"] and full["run"] != prefix_run["run"]
    assert await host.drain(reindex.reindex_worker) == []
    assert await visible("ops") == set() and "ops/run.md" in await visible("board")


@pytest.mark.parametrize(
    ("body", "message"),
    [({"path": ""}, "non-empty"), ({"path": 3}, "non-empty"), ({"prefix": "a", "path": "b"}, "at most one"),
     ({"prefix": "a", "schema_version": 3}, "at most one")],
)  # fmt: skip
async def test_post_reindex_refuses_bad_paths_and_prefixes(app_env: AppEnv, body: dict, message: str) -> None:
    code, answer = await post(body)
    assert code == 400 and message in answer["error"]


async def test_a_blob_without_acl_follows_acl_default_private(
    app_env: AppEnv, host: FunctionsHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACL_DEFAULT", "private")
    await start(CountingEmbedder())
    await upload(host, "memo.md", "# Memo\n\nA zebra memo.\n")
    await upload(host, "board.md", "# Board\n\nA zebra board paper.\n", groups="board")
    assert await visible("g1", user="someone") == set()
    assert await visible("board") == {"board.md"}
    index = (await get_services()).pipeline.index
    assert len(await index.search("zebra", mode=SearchMode.TEXT, top=20)) == 2  # the operator's view


async def test_the_functions_migration_to_v3_carries_the_acls_with_zero_tokens(
    app_env: AppEnv, host: FunctionsHost
) -> None:
    admin = build_admin(Settings.from_env())
    await lifecycle.apply(admin, lifecycle.SchemaConfig(dimensions=384), version=1)  # a deployment from before v3
    await admin.close()
    embedder = CountingEmbedder()
    await start(embedder)
    await upload(host, "plans/q1.md", "# Q1\n\nThe zebra plan.\n", groups="g1")
    await upload(host, "wiki/home.md", "# Home\n\nA zebra welcome.\n")
    with pytest.raises(ConfigurationError, match="schema v1: migrate it first"):
        await visible("g1")  # an index without ACL fields is never trimmed (and so never leaks)
    embedded = len(embedder.texts)

    code, body = await post({"schema_version": 3})
    assert code == 202 and body["migration"] == {"target": "grounding-v3", "version": 3}
    assert await host.drain(reindex.reindex_worker) == []
    services = await get_services()
    assert services.pipeline.index.name == "grounding-v3"  # swapped, and this worker follows the alias
    assert len(embedder.texts) == embedded  # every vector copied from the v1 index
    assert await visible("g1") == {"plans/q1.md", "wiki/home.md"}
    assert await visible("g2") == {"wiki/home.md"}
