"""Every error path of the command line (issue 15): exit code 2 for usage/configuration, 1 for a failed run or a bug,
one line on stderr or, under ``--json``, one JSON object ``{"error", "exit_code"}`` on stdout; tracebacks only on -v."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion import cli
from ingestion.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("AZURE_OPENAI_ENDPOINT", "AZURE_SEARCH_ENDPOINT", "DOCUMENTINTELLIGENCE_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EMBEDDING_BACKEND", "hash")
    monkeypatch.setenv("LOCAL_INDEX_PATH", str(tmp_path / "index" / "cli.sqlite"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "alpha.txt").write_text("The alpha service rotates its keys every ninety days.\n")
    return docs


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object], str]:
    code = main([*argv, "--json"] if "--" not in argv else list(argv))
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1, out
    return code, json.loads(lines[0]), err


def assert_error(body: dict[str, object], code: int, *needles: str) -> None:
    assert set(body) == {"error", "exit_code"} and body["exit_code"] == code
    message = str(body["error"])
    assert "\n" not in message and "Traceback" not in message
    for needle in needles:
        assert needle in message


@pytest.mark.parametrize("command", [["status"], ["search", "anything"]])
def test_reading_a_missing_local_index_is_a_configuration_error_and_creates_nothing(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    code, body, _ = run_json(capsys, *command)
    assert code == 2
    assert_error(body, 2, "no local index at", "LOCAL_INDEX_PATH", "ingest")
    assert not (tmp_path / "index").exists()


def test_local_index_path_that_is_a_folder_is_a_configuration_error(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_INDEX_PATH", str(tmp_path))
    code, body, _ = run_json(capsys, "ingest", str(env))
    assert code == 2
    assert_error(body, 2, "is a folder", "LOCAL_INDEX_PATH")


def test_a_locked_local_index_fails_the_run_with_a_reason(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(env), "--json"]) == 0
    capsys.readouterr()
    holder = sqlite3.connect(tmp_path / "index" / "cli.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        (env / "alpha.txt").write_text("changed, so the run must write\n")
        code, body, _ = run_json(capsys, "ingest", str(env))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 1
    assert_error(body, 1, "locked", "another process")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["search", "q", "--top", "x"], "--top"),
        (["search", "q", "--top", "0"], "--top"),
        (["search", "q", "--top", "99999999"], "--top"),
        (["search", "q", "--mode", "fuzzy"], "--mode"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
        (["ingest", "/no/such/folder/anywhere"], "no such file or folder"),
        (["schema", "diff", "1", "\u00b2"], "not 'live' or a schema version"),
        (["schema", "show", "\u0663"], "not a whole number"),
        (["search", "q", "--top", "1_0"], "not a whole number"),
    ],
)
def test_usage_errors_under_json_are_one_object_with_exit_code_2(
    env: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, body, err = run_json(capsys, *argv)
    assert code == 2
    assert_error(body, 2, needle)
    assert "usage:" not in err


def test_usage_errors_without_json_keep_argparse_usage_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "q", "--top", "x"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "usage:" in err and "not a whole number" in err


@pytest.mark.parametrize(
    ("setting", "value", "needle"),
    [
        ("MAX_DOCUMENT_BYTES", "9223372036854775807", "MAX_DOCUMENT_BYTES"),
        ("RRF_K", "9" * 400, "RRF_K"),
        ("DOCUMENTINTELLIGENCE_POLLING_SECONDS", "1e300", "from 0 to 60"),
        ("CHUNK_MAX_TOKENS", "٣٠٠", "CHUNK_MAX_TOKENS"),
        ("MAX_CONCURRENCY", "1_0", "MAX_CONCURRENCY"),
    ],
)
def test_a_bad_setting_is_exit_code_2_with_the_range(
    env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    value: str,
    needle: str,
) -> None:
    monkeypatch.setenv(setting, value)
    code, body, _ = run_json(capsys, "status")
    assert code == 2
    assert_error(body, 2, needle, " from ")
    assert len(str(body["error"])) < 200


def test_a_bug_is_one_line_and_its_traceback_shows_only_with_verbose(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(args: object, settings: object) -> int:
        raise KeyError("secret-looking-detail")

    monkeypatch.setattr(cli, "cmd_status", broken)
    code, body, err = run_json(capsys, "status")
    assert code == 1
    assert_error(body, 1, "internal error", "KeyError", "-v")
    assert "secret-looking-detail" not in json.dumps(body) and "Traceback" not in err

    assert main(["-v", "status"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" in err and "KeyError" in err and out == ""


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "ingestion", *args], env=env, cwd=cwd, capture_output=True, timeout=120, check=False
    )


@pytest.mark.skipif(sys.platform == "win32", reason="file names are bytes on POSIX only")
@pytest.mark.parametrize("encoding", ["utf-8:strict", "ascii:strict"])
def test_a_file_name_that_is_not_utf8_is_refused_with_a_reason_and_the_json_summary_prints(
    env: Path, tmp_path: Path, encoding: str
) -> None:
    bad = os.fsencode(env) + b"/bad\xffbyte.txt"
    with open(bad, "wb") as handle:
        handle.write(b"some text in a badly named file\n")
    child_env = {**os.environ, "PYTHONIOENCODING": encoding, "PYTHONPATH": str(ROOT)}
    done = _cli(["ingest", str(env), "--json"], child_env, tmp_path)
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["documents"], summary["added"], summary["failed"]) == (2, 1, 1)
    (failure,) = summary["failures"]
    assert failure["source"].endswith("bad\\xffbyte.txt")
    assert "not valid UTF-8" in failure["error"] and "rename" in failure["error"]
    assert b"Traceback" not in done.stderr

    if encoding.startswith("ascii"):
        return
    # the human summary prints too, and the file given as the root is refused as configuration
    assert _cli(["ingest", str(env)], child_env, tmp_path).returncode == 1
    refused = _cli(["ingest", os.fsdecode(bad), "--json"], child_env, tmp_path)
    assert refused.returncode == 2
    assert "not valid UTF-8" in json.loads(refused.stdout)["error"]


def test_ctrl_c_under_json_is_one_object_with_exit_code_130(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def interrupted(args: object, settings: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_status", interrupted)
    code, body, _ = run_json(capsys, "status")
    assert code == 130
    assert_error(body, 130, "interrupted")
