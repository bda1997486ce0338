"""Done-when of issue 12 through the command line against a real Azurite: a blob with ``groups=g1`` is found with
``--groups g1`` and never with ``--groups g2``; setting its metadata to ``groups=g2`` alone and ingesting again flips
that with zero tokens embedded; a blob without ACL follows ``ACL_DEFAULT``. Also: ``--prefix P`` without a trailing
``/`` follows blob-listing semantics, deletes included. Each test runs on both index backends."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from ingestion.cli import main
from tests.fakes.search_server import FakeSearchServer

pytestmark = pytest.mark.azurite


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def sources(capsys: pytest.CaptureFixture[str], *who: str, query: str = "quarterly") -> set[str]:
    """What a search as ``who`` finds, the same in every mode."""
    seen: list[set[str]] = []
    for mode in ("hybrid", "text", "vector"):
        code, body = run(capsys, "search", query, "--top", "20", "--mode", mode, *who)
        assert code == 0
        seen.append({hit["source"] for hit in body["hits"]})
    assert seen[0] == seen[1] == seen[2], seen
    return seen[0]


@pytest.fixture(params=["local", "azure_search"])
def container(
    request: pytest.FixtureRequest, azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ContainerClient]:
    """A fresh Azurite container as the source; the index is the local store or Azure AI Search on the fake."""
    for name in ("AZURE_OPENAI_ENDPOINT", "AZURE_SEARCH_ENDPOINT", "AZURE_SEARCH_API_KEY", "INDEX_BACKEND",
                 "DOCUMENTINTELLIGENCE_ENDPOINT", "AzureWebJobsStorage", "ACL_DEFAULT", "ACL_SOURCE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EMBEDDING_BACKEND", "hash")
    monkeypatch.setenv("LOCAL_INDEX_PATH", str(tmp_path / "index.sqlite"))
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    server = None
    if request.param == "azure_search":
        server = FakeSearchServer()
        server.start()
        monkeypatch.setenv("INDEX_BACKEND", "azure_search")
        monkeypatch.setenv("AZURE_SEARCH_ENDPOINT", server.url)
        monkeypatch.setenv("AZURE_SEARCH_API_KEY", server.api_key)
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    name = f"acl-{uuid.uuid4().hex[:16]}"
    try:
        yield service.create_container(name)
    finally:
        service.delete_container(name)
        if server is not None:
            server.stop()


def test_a_metadata_only_acl_change_flips_visibility_with_zero_tokens(container: ContainerClient, capsys) -> None:
    name = container.container_name
    plan_text = b"# Q1\n\nThe quarterly plan hires two engineers.\n"
    container.upload_blob("plans/q1.md", plan_text, metadata={"groups": "g1"})
    container.upload_blob("open/faq.md", b"# FAQ\n\nThe quarterly report is public.\n")
    code, first = run(capsys, "ingest", "--container", name)
    assert code == 0 and (first["added"], first["failed"]) == (2, 0)
    plan, faq = f"{name}/plans/q1.md", f"{name}/open/faq.md"
    assert sources(capsys, "--groups", "g1") == {plan, faq}
    assert sources(capsys, "--groups", "g2") == {faq}  # no ACL: ACL_DEFAULT=public

    container.get_blob_client("plans/q1.md").set_blob_metadata({"groups": "g2"})  # metadata alone: same content
    code, second = run(capsys, "ingest", "--container", name)
    assert code == 0
    assert (second["updated"], second["unchanged"], second["tokens_embedded"], second["failed"]) == (1, 1, 0, 0)
    assert sources(capsys, "--groups", "g1") == {faq}
    assert sources(capsys, "--groups", "g2") == {plan, faq}

    container.get_blob_client("plans/q1.md").set_blob_metadata({"oids": "oid-a, oid-b", "groups": ""})
    assert run(capsys, "ingest", "--container", name)[1]["tokens_embedded"] == 0
    assert sources(capsys, "--groups", "g2") == {faq}
    assert sources(capsys, "--user", "oid-b") == {plan, faq}


def test_a_blob_without_acl_follows_acl_default(container: ContainerClient, capsys, monkeypatch) -> None:
    name = container.container_name
    container.upload_blob("memo.md", b"# Memo\n\nThe quarterly memo.\n")
    monkeypatch.setenv("ACL_DEFAULT", "private")
    assert run(capsys, "ingest", "--container", name)[0] == 0
    assert sources(capsys, "--groups", "g1") == set()
    assert sources(capsys) == {f"{name}/memo.md"}  # the operator's view
    monkeypatch.setenv("ACL_DEFAULT", "public")
    code, result = run(capsys, "ingest", "--container", name)
    assert (code, result["updated"], result["tokens_embedded"]) == (0, 1, 0)
    assert sources(capsys, "--groups", "g1") == {f"{name}/memo.md"}


def test_bad_acl_metadata_fails_the_blob_with_a_reason(container: ContainerClient, capsys) -> None:
    name = container.container_name
    container.upload_blob("bad.md", b"# Bad\n\nquarterly\n", metadata={"groups": "g1," + "x" * 300})
    code, result = run(capsys, "ingest", "--container", name)
    assert code == 1 and result["failed"] == 1
    assert result["failures"][0]["error"].startswith(f"{name}/bad.md: metadata groups")


def test_a_prefix_without_a_slash_follows_blob_listing_semantics(container: ContainerClient, capsys) -> None:
    name = container.container_name
    for blob in ("reports/2025.md", "reports-old/2019.md", "reportsX.md", "other/keep.md"):
        container.upload_blob(blob, f"# {blob}\n\nThe quarterly numbers of {blob}.\n".encode())
    code, first = run(capsys, "ingest", "--container", name, "--prefix", "reports")
    assert code == 0 and first["added"] == 3  # reports/, reports-old/ and reportsX.md, as list_blobs gives them
    container.delete_blob("reports-old/2019.md")
    container.delete_blob("reportsX.md")
    code, second = run(capsys, "ingest", "--container", name, "--prefix", "reports")
    assert code == 0 and (second["unchanged"], second["deleted"]) == (1, 2)  # before the fix: nothing deleted
    assert sources(capsys) == {f"{name}/reports/2025.md"}
    code, other = run(capsys, "ingest", "--container", name, "--prefix", "other/k")
    assert (other["added"], other["deleted"]) == (1, 0)  # another prefix never deletes outside itself
