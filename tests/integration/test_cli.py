"""The command line: JSON output shapes and exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestion.cli import main
from ingestion.deployment import lifecycle
from ingestion.errors import AliasConflict

KEYS = {
    "documents",
    "added",
    "updated",
    "unchanged",
    "deleted",
    "failed",
    "chunks",
    "tokens_embedded",
    "seconds",
    "failures",
}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("AZURE_OPENAI_ENDPOINT", "AZURE_SEARCH_ENDPOINT", "DOCUMENTINTELLIGENCE_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EMBEDDING_BACKEND", "hash")
    monkeypatch.setenv("LOCAL_INDEX_PATH", str(tmp_path / "cli.sqlite"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "alpha.md").write_text("# Alpha\n\nThe alpha service rotates its keys every ninety days.\n")
    (docs / "beta.txt").write_text("Beta notes: the beta cluster lives in Sweden Central.\n")
    return docs


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_json_then_search_and_status(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ingest", str(env), "--json")
    assert code == 0
    counts = json.loads(out)
    assert set(counts) >= KEYS
    assert (counts["documents"], counts["added"], counts["failed"], counts["failures"]) == (2, 2, 0, [])

    code, out, _ = run(capsys, "search", "keys rotate ninety days", "--top", "1", "--mode", "text", "--json")
    assert code == 0
    hits = json.loads(out)["hits"]
    assert len(hits) == 1 and hits[0]["source"].endswith("alpha.md") and hits[0]["title"] == "Alpha"

    code, out, _ = run(capsys, "status", "--json")
    status = json.loads(out)
    assert code == 0 and (status["documents"], status["index"]) == (2, "grounding-v3")


def test_failed_document_exits_1_and_is_listed(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (env / "broken.pdf").write_bytes(b"this is not a pdf at all")
    code, out, _ = run(capsys, "ingest", str(env), "--json")
    counts = json.loads(out)
    assert code == 1
    assert counts["failed"] == 1 and counts["added"] == 2
    assert counts["failures"][0]["source"].endswith("broken.pdf")
    assert "broken.pdf" in counts["failures"][0]["error"]


def test_configuration_and_usage_errors_exit_2(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHUNK_MAX_TOKENS", "lots")
    code, _, err = run(capsys, "ingest", str(env))
    assert code == 2 and "CHUNK_MAX_TOKENS" in err
    monkeypatch.delenv("CHUNK_MAX_TOKENS")
    code, _, err = run(capsys, "ingest", str(env / "missing"))
    assert code == 2 and "missing" in err
    code, _, _ = run(capsys, "frobnicate")
    assert code == 2


def test_a_rollback_that_loses_a_race_exits_1_not_2(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lost compare-and-swap is a conflict (nothing changed, look again), not a configuration error (exit 2)."""

    async def moved_meanwhile(*args: object, **kwargs: object) -> dict[str, str]:
        raise AliasConflict("grounding", expected="grounding-v1", found="grounding-v2", target="grounding-v1")

    monkeypatch.setattr(lifecycle, "rollback", moved_meanwhile)
    code, _, err = run(capsys, "schema", "rollback")
    assert code == 1 and "someone else moved it" in err and "configuration error" not in err
