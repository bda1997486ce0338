"""What the schema-version tests share: the documents they ingest and a version 4 they register the way a developer
adding ``index_schemas/v4.py`` would (the ``v4`` fixture of tests/conftest.py)."""

from __future__ import annotations

from dataclasses import replace

from index_schemas import SchemaParams, v3
from index_schemas.types import IndexDefinition

# The documents the schema tests ingest and migrate (each test writes them into its own folder).
TOPICS = {
    "backup.md": "# Backups\n\nBackups run nightly to the geo-redundant vault in West Europe.\n",
    "tokens.md": "# Token limits\n\nEvery chunk stays under the token cap of the embedding model.\n",
    "invoices.txt": "Invoices go to the finance mailbox and are paid within one month.\n",
    "keys.md": "# Keys\n\nThe alpha service rotates its keys every ninety days.\n",
    "cluster.md": "# Cluster\n\nThe beta cluster lives in Sweden Central with three zones.\n",
    "onboarding.html": "<html><head><title>Onboarding</title></head><body><h1>Onboarding</h1>"
    "<p>New staff get a laptop and a badge on day one.</p></body></html>",
}


def build_v4(params: SchemaParams) -> IndexDefinition:
    """A REBUILD change a developer might make to the latest version (v3): ``source_path`` stops being facetable."""
    index = v3.build(params)
    fields = tuple(replace(f, facetable=False) if f.name == "source_path" else f for f in index.fields)
    return replace(index, fields=fields)
