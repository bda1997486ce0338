"""`eval` on a tiny golden set over a tiny corpus: JSON fields, document-level counting and the recall gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestion.cli import main


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    for name in ("AZURE_OPENAI_ENDPOINT", "AZURE_SEARCH_ENDPOINT", "DOCUMENTINTELLIGENCE_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EMBEDDING_BACKEND", "hash")
    monkeypatch.setenv("LOCAL_INDEX_PATH", str(tmp_path / "eval.sqlite"))
    monkeypatch.setenv("CHUNK_MAX_TOKENS", "32")
    monkeypatch.setenv("CHUNK_OVERLAP_TOKENS", "4")
    root = tmp_path / "docs"
    (root / "faq").mkdir(parents=True)
    (root / "faq" / "billing.md").write_text(
        "# Billing\n\nInvoices are sent monthly by email.\n\n## Refunds\n\nRefunds take ten business days.\n"
    )
    (root / "faq" / "accounts.md").write_text("# Accounts\n\nPasswords must be rotated every quarter.\n")
    (root / "setup.md").write_text("# Setup\n\nInstall the agent with the package manager.\n")
    golden = tmp_path / "golden.jsonl"
    rows = [
        {"id": "q1", "query": "how long do refunds take", "relevant": ["faq/billing.md"]},
        {"id": "q2", "query": "passwords rotated quarter", "relevant": ["faq/accounts.md"]},
        {"id": "q3", "query": "install agent package manager", "relevant": ["setup.md"]},
        {"id": "q4", "query": "volcano eruption forecast", "relevant": ["setup.md"]},
    ]
    golden.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root, golden


def test_eval_reports_metrics_and_gates(corpus, capsys: pytest.CaptureFixture[str]) -> None:
    root, golden = corpus
    assert main(["ingest", str(root), "--json"]) == 0
    capsys.readouterr()
    assert main(["eval", str(golden), "--root", str(root), "--mode", "text", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mode"] == "text" and report["queries"] == 4
    assert (report["recall@1"], report["recall@5"], report["mrr@10"]) == (0.75, 0.75, 0.75)
    assert report["misses"] == ["q4"]
    assert set(report) >= {"recall@10", "ndcg@10"}
    # Distinct sources among the first five chunks: each answered query's words occur on one page only, and the
    # unanswered one matches nothing.
    assert report["distinct@5"] == 0.75
    assert 0 < report["search_ms_p50"] <= report["search_ms_p95"]

    assert main(["eval", str(golden), "--root", str(root), "--mode", "text", "--min-recall-at-5", "0.8"]) == 1
    assert main(["eval", str(golden), "--root", str(root), "--mode", "text", "--min-recall-at-5", "0.7"]) == 0
    capsys.readouterr()
    second = golden.with_name("second.jsonl")  # the relevant page ranks second: only --top 2 or more finds it
    second.write_text(
        json.dumps({"id": "s1", "query": "passwords rotated quarter refunds", "relevant": ["faq/billing.md"]})
    )
    assert main(["eval", str(second), "--root", str(root), "--mode", "text", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["top"], report["recall@1"], report["recall@5"], report["mrr@10"]) == (10, 0.0, 1.0, 0.5)
    assert main(["eval", str(second), "--root", str(root), "--mode", "text", "--top", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["top"], report["recall@5"], report["misses"]) == (1, 0.0, ["s1"])
    assert main(["eval", str(golden), "--root", str(root), "--mode", "all", "--json"]) == 0
    modes = [r["mode"] for r in json.loads(capsys.readouterr().out)["modes"]]
    assert modes == ["hybrid", "text", "vector"]


def test_bad_golden_file_is_a_usage_error(corpus, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = corpus
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "query": "q"}\n')
    assert main(["eval", str(bad), "--root", str(root)]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err


def test_an_empty_index_is_a_usage_error(corpus, capsys: pytest.CaptureFixture[str]) -> None:
    root, golden = corpus
    assert main(["eval", str(golden), "--root", str(root)]) == 2
    assert "empty" in capsys.readouterr().err


def test_eval_as_a_user_counts_only_what_that_user_may_see(corpus, capsys: pytest.CaptureFixture[str]) -> None:
    root, golden = corpus
    (root / "faq" / "billing.md.acl.json").write_text('{"groups": ["finance"]}')
    assert main(["ingest", str(root), "--json"]) == 0
    capsys.readouterr()
    args = ["eval", str(golden), "--root", str(root), "--mode", "text", "--json"]
    assert main([*args, "--groups", "finance"]) == 0
    assert json.loads(capsys.readouterr().out)["misses"] == ["q4"]  # as the operator's view
    assert main([*args, "--groups", "sales", "--user", "someone"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["misses"] == ["q1", "q4"] and report["recall@5"] == 0.5  # billing.md is not theirs to find
