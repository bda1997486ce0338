"""The command line's argument surface, in process: any argv gives exit code 0, 1 or 2 (130 only on Ctrl-C), and
under ``--json`` stdout is exactly one JSON object (an error object carrying the same exit code); never a traceback
unless ``-v``."""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from unittest import mock

from hypothesis import example, given
from hypothesis import strategies as st

from ingestion.cli import main

WORK = Path(tempfile.mkdtemp(prefix="cli-fuzz-"))
atexit.register(shutil.rmtree, WORK, ignore_errors=True)
DOCS = WORK / "docs"
DOCS.mkdir()
(DOCS / "a.md").write_text("# Alpha\n\nKeys rotate every ninety days.\n", encoding="utf-8")
(DOCS / "b.txt").write_text("Beta lives in Sweden Central.\n", encoding="utf-8")
(WORK / "golden.jsonl").write_text('{"id": "1", "query": "keys", "relevant": ["a.md"]}\n', encoding="utf-8")
ENV = {
    "EMBEDDING_BACKEND": "hash",
    "LOCAL_INDEX_PATH": str(WORK / "index.sqlite"),
    "AZURE_OPENAI_ENDPOINT": "",
    "AZURE_SEARCH_ENDPOINT": "",
    "DOCUMENTINTELLIGENCE_ENDPOINT": "",
    "AZURE_STORAGE_CONNECTION_STRING": "",
}
COMMANDS = ["ingest", "search", "status", "eval", "schema", "nonsense", "--json", "-v", ""]
TOKENS = [
    "--json", "--json", "-v", "--top", "0", "3", "-1", "99999999999", "--mode", "text", "vector", "hybrid", "bogus",
    "--source", "--container", "docs", "--prefix", "--no-delete", "--root", str(DOCS), str(DOCS / "a.md"),
    str(WORK / "golden.jsonl"), str(WORK / "missing"), "show", "status", "diff", "1", "2", "live", "²", "٣", "1_0",
    "--", "=", "\x00",
]  # fmt: skip
argvs = st.tuples(
    st.sampled_from(COMMANDS), st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=12)), max_size=6)
).map(lambda parts: [part for part in [parts[0], *parts[1]] if part != ""])


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, ENV), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@given(argv=argvs)
@example(argv=["ingest", str(DOCS), "--json"])
@example(argv=["search", "keys", "--json", "--top", "99999999999"])
@example(argv=["status", "--json"])
@example(argv=["eval", str(WORK / "golden.jsonl"), "--root", str(DOCS), "--json"])
@example(argv=["--json"])
def test_any_command_line_exits_0_1_or_2_and_json_is_always_one_object(argv: list[str]) -> None:
    code, out, err = run(argv)
    assert code in (0, 1, 2), (argv, code, err)
    json_wanted = "--json" in (argv[: argv.index("--")] if "--" in argv else argv)
    if json_wanted:
        lines = out.splitlines()
        assert len(lines) == 1, (argv, out, err)
        body = json.loads(lines[0])
        assert isinstance(body, dict)
        if "error" in body:
            assert body["exit_code"] == code and code != 0 and "\n" not in body["error"]
    if "-v" not in argv:
        assert "Traceback" not in err, (argv, err)
