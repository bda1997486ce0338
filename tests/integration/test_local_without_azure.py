"""The local stack needs no Azure SDK: ingest, search and ``schema status`` run with every ``azure*`` import refused.

Runs in a fresh interpreter (the test process has the SDKs imported already) with a meta-path finder that raises
ImportError for ``azure`` and everything under it, as on a machine where the Azure packages are not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys

class NoAzure:
    def find_spec(self, name, path=None, target=None):
        if name == "azure" or name.startswith("azure."):
            raise ImportError(f"azure is blocked in this test: {name}")
        return None

sys.meta_path.insert(0, NoAzure())
from ingestion.cli import main

codes = [main(["ingest", sys.argv[1], "--json"]), main(["search", "ninety days", "--json"])]
codes.append(main(["schema", "status", "--json"]))
codes.append(main(["schema", "show", "--json"]))
print(json.dumps({"codes": codes, "azure": sorted(m for m in sys.modules if m.split(".")[0] == "azure")}))
"""


def test_ingest_search_and_schema_status_import_no_azure_module(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "alpha.md").write_text("# Alpha\n\nThe alpha service rotates its keys every ninety days.\n")
    (docs / "beta.txt").write_text("Beta notes: the beta cluster lives in Sweden Central.\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "DOCUMENTINTELLIGENCE_"))}
    env |= {"EMBEDDING_BACKEND": "hash", "INDEX_BACKEND": "local", "LOCAL_INDEX_PATH": str(tmp_path / "i.sqlite")}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(docs)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary == {"codes": [0, 0, 0, 0], "azure": []}, done.stderr
    ingested = json.loads(lines[0])
    assert ingested["added"] == 2 and ingested["failed"] == 0
    assert "alpha.md" in lines[1]  # the search found the document that mentions ninety days
