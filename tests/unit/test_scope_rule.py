"""The one scope rule (``sources.base.in_scope``) used by the stale sweeps, the reindex runs and migration checks."""

from __future__ import annotations

import pytest

from ingestion.sources.base import in_scope
from ingestion.sources.blob import blob_source_id


@pytest.mark.parametrize(
    ("source_id", "scope", "inside"),
    [
        ("/data/docs/a.md", "/data/docs/", True),
        ("/data/docs/sub/b.md", "/data/docs/", True),
        ("/data/docs2/a.md", "/data/docs/", False),
        ("/data/a.txt", "/data/a.txt", True),
        ("/data/a.txt.bak", "/data/a.txt", False),  # a single-file scope holds only itself
        (blob_source_id("acct", "c", "x/y.md"), blob_source_id("acct", "c", ""), True),
        (blob_source_id("acct", "c2", "y.md"), blob_source_id("acct", "c", ""), False),
        # A blob prefix not ending in "/" follows blob-listing semantics: a prefix, never a single file.
        (blob_source_id("acct", "c", "docs/a.md"), blob_source_id("acct", "c", "docs"), True),
        (blob_source_id("acct", "c", "docs.md"), blob_source_id("acct", "c", "docs"), True),
        (blob_source_id("acct", "c", "doc.md"), blob_source_id("acct", "c", "docs"), False),
        (blob_source_id("acct", "c", "docs/a.md"), blob_source_id("acct", "c", "docs/"), True),
    ],
)
def test_in_scope(source_id: str, scope: str, inside: bool) -> None:
    assert in_scope(source_id, scope) is inside
