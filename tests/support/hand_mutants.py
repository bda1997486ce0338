# ruff: noqa: E501
"""Hand-made mutants of the core behaviours, and whether the tests that claim them go red ("every test can fail").

Each mutant is one textual change to one module and the tests that must catch it. ``run`` applies it, runs those
tests, records KILLED (red, as it should be) or SURVIVED (still green: a test is missing), and restores the file, in
a ``finally``. Run it on a clean tree and check ``git status`` afterwards (a killed process would leave a mutant)::

    .venv/bin/python -m tests.support.hand_mutants            # all of them (about 15 minutes)
    .venv/bin/python -m tests.support.hand_mutants keys-basename rrf-ignore-weight

Two survive by design, being equivalent to the original: ``keys-threshold-off-by-one`` (a base64 key is 1 + 4n
characters long, so it never equals the 1,000-character bound the mutant moves) and ``pipeline-bad-input-raises``
(without its own clause, BadInputError is caught by the IngestionError clause that follows and handled the same way).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MUTANTS = [
    # (id, file, old, new, tests)
    (
        "keys-basename",
        "ingestion/keys.py",
        'base64.urlsafe_b64encode(source_id.encode("utf-8"))',
        'base64.urlsafe_b64encode(source_id.rsplit("/", 1)[-1].encode("utf-8"))',
        "tests/unit/test_keys.py",
    ),
    (
        "keys-no-separator",
        "ingestion/keys.py",
        'return f"{parent_key}_{ordinal}"',
        'return f"{parent_key}{ordinal}"',
        "tests/unit/test_keys.py",
    ),
    (
        "keys-hash-prefix-d",
        "ingestion/keys.py",
        'return "h" + hashlib',
        'return "d" + hashlib',
        "tests/unit/test_keys.py",
    ),
    (
        "keys-threshold-off-by-one",
        "ingestion/keys.py",
        "if 1 + len(encoded) <= MAX_DOCUMENT_KEY_LENGTH:",
        "if 1 + len(encoded) < MAX_DOCUMENT_KEY_LENGTH:",
        "tests/unit/test_keys.py",
    ),
    ("keys-negative-ordinal", "ingestion/keys.py", "if ordinal < 0:", "if ordinal < -1:", "tests/unit/test_keys.py"),
    (
        "chunk-overlap-validation",
        "ingestion/chunking/chunker.py",
        "if not 0 <= overlap_tokens < max_tokens:",
        "if not 0 <= overlap_tokens <= max_tokens:",
        "tests/unit/test_chunking.py",
    ),
    (
        "chunk-no-overlap",
        "ingestion/chunking/chunker.py",
        "if not self._overlap or _starts_block(structure, following):",
        "if True or _starts_block(structure, following):",
        "tests/unit/test_chunking.py",
    ),
    (
        "chunk-overlap-before-a-block",
        "ingestion/chunking/chunker.py",
        "if not self._overlap or _starts_block(structure, following):",
        "if not self._overlap:",
        "tests/unit/test_chunking.py",
    ),
    (
        "rrf-rank-from-0",
        "ingestion/indexing/rrf.py",
        "for rank, item in enumerate(ranking, start=1):",
        "for rank, item in enumerate(ranking, start=0):",
        "tests/unit/test_rrf.py",
    ),
    (
        "rrf-ignore-weight",
        "ingestion/indexing/rrf.py",
        "scores.get(item, 0.0) + weight / (k + rank)",
        "scores.get(item, 0.0) + 1.0 / (k + rank)",
        "tests/unit/test_rrf.py",
    ),
    (
        "rrf-duplicates-twice",
        "ingestion/indexing/rrf.py",
        "            if item in seen:\n                continue\n",
        "",
        "tests/unit/test_rrf.py",
    ),
    (
        "rrf-tie-break-reversed",
        "ingestion/indexing/rrf.py",
        "key=lambda item: (-scores[item], best_rank[item])",
        "key=lambda item: (-scores[item], -best_rank[item])",
        "tests/unit/test_rrf.py",
    ),
    ("rrf-negative-k-allowed", "ingestion/indexing/rrf.py", "if k < 0:", "if k < -100:", "tests/unit/test_rrf.py"),
    (
        "bloburl-no-unquote",
        "ingestion/sources/blob.py",
        'return account, segments[0], unquote("/".join(segments[1:]))',
        'return account, segments[0], "/".join(segments[1:])',
        "tests/unit/test_blob_url.py",
    ),
    (
        "bloburl-drop-folders",
        "ingestion/sources/blob.py",
        'return account, segments[0], unquote("/".join(segments[1:]))',
        "return account, segments[0], unquote(segments[-1])",
        "tests/unit/test_blob_url.py",
    ),
    (
        "bloburl-accept-container-only",
        "ingestion/sources/blob.py",
        "if account and len(segments) >= 2 and segments[0] and any(segments[1:]):",
        "if account and len(segments) >= 1 and segments[0]:",
        "tests/unit/test_blob_url.py",
    ),
    (
        "batch-retry-400",
        "ingestion/indexing/azure/shared_batches.py",
        'elif status in RETRY_ITEM_STATUSES or status >= 500 or status == 0:',
        'elif status in RETRY_ITEM_STATUSES or status >= 500 or status in (0, 400):',
        "tests/integration/test_azure_search_faults.py",
    ),
    (
        "batch-unreported-is-ok",
        "ingestion/indexing/azure/shared_batches.py",
        'results.get(action.key, (0, "the service did not report this item"))',
        'results.get(action.key, (200, ""))',
        "tests/integration/test_azure_search_faults.py",
    ),
    (
        "batch-resend-whole-batch",
        "ingestion/indexing/azure/shared_batches.py",
        '            pending = retry\n',
        '            pending = items\n',
        "tests/integration/test_azure_search_faults.py",
    ),
    (
        "batch-404-retried",
        "ingestion/indexing/azure/shared_batches.py",
        'elif status in RETRY_ITEM_STATUSES or status >= 500 or status == 0:',
        'elif status in RETRY_ITEM_STATUSES or status >= 404 or status == 0:',
        "tests/integration/test_azure_search_faults.py",
    ),
    (
        "order-commit-first",
        "ingestion/indexing/azure/index.py",
        "            await sender.send([a for a in actions if a.key != commit], what=what)\n",
        "            await sender.send([a for a in actions if a.key == commit], what=what)\n            await sender.send([a for a in actions if a.key != commit], what=what)\n",
        "tests/integration/test_azure_search_faults.py tests/contract/test_azure_search_index.py",
    ),
    (
        "order-delete-before-write",
        "ingestion/indexing/azure/index.py",
        '            await sender.send([a for a in actions if a.key != commit], what=what)\n            keep = {a.key for a in actions}\n            stale = sorted((await self._chunk_keys(record.key, what=what)) - keep)\n            await sender.send([encode("delete", {Field.ID: key}) for key in stale], what=what)\n',
        '            keep = {a.key for a in actions}\n            stale = sorted((await self._chunk_keys(record.key, what=what)) - keep)\n            await sender.send([encode("delete", {Field.ID: key}) for key in stale], what=what)\n            await sender.send([a for a in actions if a.key != commit], what=what)\n',
        "tests/integration/test_azure_search_faults.py tests/contract/test_azure_search_index.py",
    ),
    (
        "order-no-stale-delete",
        "ingestion/indexing/azure/index.py",
        '            await sender.send([encode("delete", {Field.ID: key}) for key in stale], what=what)\n',
        "",
        "tests/integration/test_azure_search_faults.py tests/contract/test_azure_search_index.py",
    ),
    (
        "pipeline-ignores-fingerprint",
        "ingestion/pipeline.py",
        "if existing and existing.content_version == item.content_version and existing.fingerprint == self.fingerprint:",
        "if existing and existing.content_version == item.content_version:",
        "tests/integration/test_pipeline_local.py",
    ),
    (
        "pipeline-delete-outside-scope",
        "ingestion/sources/base.py",
        "    return source_id == scope\n",
        "    return source_id.startswith(scope)\n",
        "tests/integration/test_pipeline_local.py",
    ),
    (
        "settings-no-minimum",
        "ingestion/settings.py",
        "    if minimum is not None and value < minimum:",
        "    if minimum is not None and value < minimum - 1:",
        "tests/unit/test_settings.py tests/unit/test_settings_bounds.py",
    ),
    (
        "settings-no-maximum",
        "ingestion/settings.py",
        "    if maximum is not None and value > maximum:",
        "    if maximum is not None and value > maximum + 1:",
        "tests/unit/test_settings.py tests/unit/test_settings_bounds.py",
    ),
    (
        "settings-overlap-minimum",
        "ingestion/settings.py",
        'chunk_overlap_tokens=read.integer("CHUNK_OVERLAP_TOKENS", 64, minimum=0),',
        'chunk_overlap_tokens=read.integer("CHUNK_OVERLAP_TOKENS", 64, minimum=-5),',
        "tests/unit/test_settings.py tests/unit/test_settings_bounds.py",
    ),
    (
        "fake-odata-untyped",
        "tests/fakes/search_odata.py",
        "        _check_types(left_type, right_type, op)\n",
        "",
        "tests/unit/test_search_fake_strict.py",
    ),
    (
        "fake-odata-field-to-field",
        "tests/fakes/search_odata.py",
        "        if left_is_field == right_is_field:",
        "        if False:",
        "tests/unit/test_search_fake_strict.py",
    ),
    (
        "fake-reranker-keeps-order",
        "tests/fakes/search_query.py",
        "        keys = sorted(semantic, key=lambda key: (-semantic[key], -scores[key], key))",
        "        keys = sorted(semantic, key=lambda key: (-scores[key], key))",
        "tests/unit/test_search_fake_strict.py tests/contract/test_azure_search_index.py",
    ),
    (
        "fake-no-indexing-delay",
        "tests/fakes/search_store.py",
        "        if self.delay <= 0 and not self.pending:",
        "        if True:",
        "tests/unit/test_search_fake_strict.py tests/integration/test_azure_search_refresh.py",
    ),
    (
        "fake-merge-sees-only-visible",
        "tests/fakes/search_store.py",
        "    existing = index.latest.get(key)",
        "    existing = index.documents.get(key)",
        "tests/unit/test_search_fake_strict.py",
    ),
    (
        "fake-docintel-any-zip",
        "tests/fakes/docintel_content.py",
        '            if kind is None or "[Content_Types].xml" not in names:',
        '            if kind is None:\n                return "docx"\n            if False:',
        "tests/integration/test_docintel_content.py",
    ),
    (
        "fake-docintel-magic-only-images",
        "tests/fakes/docintel_content.py",
        "            _check_image(data)\n            return kind",
        "            return kind",
        "tests/integration/test_docintel_content.py",
    ),
    (
        "fake-docintel-canned-answer",
        "tests/fakes/docintel_server.py",
        "        self.canned_markdown: str | None = None",
        "        self.canned_markdown: str | None = CANNED_MARKDOWN",
        "tests/integration/test_docintel_content.py tests/contract/test_docintel_cracker.py",
    ),
    (
        "fake-openai-any-version",
        "tests/fakes/openai_server.py",
        "    if version not in API_VERSIONS:\n        raise",
        "    if version is None:\n        raise",
        "tests/integration/test_azure_openai_embedder.py",
    ),
    (
        "app-timer-setting-renamed",
        "ingestion/functions/reindex.py",
        'schedule="%REINDEX_SCHEDULE%"',
        'schedule="%REINDEX_CRON%"',
        "tests/functions/test_config_files.py",
    ),
    (
        "app-queue-connection-dropped",
        "ingestion/functions/reindex.py",
        'queue_name="%REINDEX_QUEUE%", connection=STORAGE_CONNECTION)',
        'queue_name="%REINDEX_QUEUE%")',
        "tests/functions/test_config_files.py",
    ),
    (
        "embedder-timeout-ignored",
        "ingestion/embedding/azure_openai.py",
        "                timeout=self._timeout,\n",
        "                timeout=600.0,\n",
        "tests/integration/test_azure_openai_embedder.py",
    ),
    (
        "verify-reads-once",
        "ingestion/deployment/migrate.py",
        "        if consistent or time.monotonic() >= deadline:",
        "        if True:",
        "tests/integration/test_azure_search_refresh.py",
    ),
    (
        "writer-lists-once",
        "ingestion/indexing/azure/index.py",
        "        return await self._own_writes.listing(parent_key, read)",
        "        return await read()",
        "tests/integration/test_azure_search_refresh.py",
    ),
    (
        "writer-keeps-stale-expectation",
        "ingestion/indexing/azure/visibility.py",
        "            self._recent.pop(parent_key, None)\n",
        "",
        "tests/integration/test_azure_search_refresh.py",
    ),
    (
        "source-lists-hidden",
        "ingestion/sources/local.py",
        '            if entry.name.startswith("."):',
        '            if entry.name == ".":',
        "tests/contract/test_local_folder_source.py",
    ),
    (
        "embedder-hash-unnormalised",
        "ingestion/embedding/hashing.py",
        "        return (vector / norm).astype(np.float32)",
        "        return vector.astype(np.float32)",
        "tests/contract/test_embedders.py",
    ),
    (
        "local-no-transaction",
        "ingestion/indexing/local/index.py",
        "        with self._session() as conn, transaction(conn):\n            conn.executemany(self._upsert, rows)",
        "        with self._session() as conn:\n            conn.executemany(self._upsert, rows)",
        "tests/contract/test_local_index.py",
    ),
    (
        "local-no-stale-delete",
        "ingestion/indexing/local/index.py",
        'AND {quote(Field.ID)} NOT IN (SELECT value FROM json_each(?))",',
        'AND 0 AND {quote(Field.ID)} NOT IN (SELECT value FROM json_each(?))",',
        "tests/contract/test_local_index.py",
    ),
    (
        "pipeline-no-vector-reuse",
        "ingestion/pipeline.py",
        "            if digest not in reusable and digest not in missing:",
        "            if digest not in missing:",
        "tests/integration/test_pipeline_local.py",
    ),
    (
        "pipeline-transient-swallowed",
        "ingestion/pipeline.py",
        "            if raise_transient:\n                raise\n",
        "",
        "tests/functions tests/integration/test_pipeline_local.py",
    ),
    (
        "pipeline-bad-input-raises",
        "ingestion/pipeline.py",
        "        except BadInputError as exc:\n            return self._failed(item, exc)\n",
        "",
        "tests/integration/test_pipeline_local.py",
    ),
    (
        "openai-429-not-retried",
        "ingestion/embedding/azure_openai.py",
        "        if status in _RETRYABLE_STATUS or status >= 500:",
        "        if status in (408,) or status >= 500:",
        "tests/integration/test_azure_openai_embedder.py",
    ),
    (
        "openai-409-not-retried",
        "ingestion/embedding/azure_openai.py",
        "_RETRYABLE_STATUS = frozenset({408, 409, 429})",
        "_RETRYABLE_STATUS = frozenset({408, 429})",
        "tests/integration/test_azure_openai_embedder.py",
    ),
    (
        "openai-retry-after-ignored",
        "ingestion/embedding/azure_openai.py",
        '            raise _Retry("429 too many requests", retry_after=retry_after, throttled=True) from None',
        '            raise _Retry("429 too many requests", retry_after=None, throttled=True) from None',
        "tests/integration/test_azure_openai_embedder.py",
    ),
    (
        "shared-batches-always-hold",
        "ingestion/indexing/azure/shared_batches.py",
        "        return self.in_flight() > self._senders",
        "        return True",
        "tests/integration/test_azure_shared_batches.py",
    ),
    (
        "shared-batches-never-hold",
        "ingestion/indexing/azure/shared_batches.py",
        "        return self.in_flight() > self._senders",
        "        return False",
        "tests/integration/test_azure_shared_batches.py",
    ),
    (
        "batched-expected-counts-messages",
        "ingestion/runs/reindex.py",
        "            counted[0] += 1\n",
        "            counted[0] += 1 if not batch[:-1] else 0\n",
        "tests/functions/test_reindex_batched.py",
    ),
    (
        "batched-first-failure-stops-the-others",
        "ingestion/runs/reindex.py",
        "for one in message.split()), return_exceptions=True",
        "for one in message.split()), return_exceptions=False",
        "tests/functions/test_reindex_batched.py",
    ),
    (
        "reconcile-ignores-batched-poison",
        "ingestion/runs/reconcile.py",
        "        documents = message.split() if isinstance(message, DocumentsMessage) else [message]",
        "        documents = [] if isinstance(message, DocumentsMessage) else [message]",
        "tests/functions/test_reindex_batched.py",
    ),
    (
        "pipeline-no-pacing",
        "ingestion/pipeline.py",
        "            index.pace_by(lambda: self.budget.documents)",
        "            pass",
        "tests/integration/test_pipeline_local.py",
    ),
]


def run(mutant: tuple[str, str, str, str, str]) -> str:
    """KILLED, SURVIVED or SKIP (the text to change is not in the file exactly once: the code moved on)."""
    _, relative, old, new, tests = mutant
    path = ROOT / relative
    original = path.read_text()
    if original.count(old) != 1:
        return "SKIP"
    path.write_text(original.replace(old, new))
    try:
        command = [sys.executable, "-m", "pytest", *tests.split(), "-q", "-x", "-p", "no:cacheprovider"]
        env = {**os.environ, "AZURITE_BIN": str(ROOT / ".tools/node_modules/.bin/azurite")}
        outcome = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    finally:
        path.write_text(original)
    return "KILLED" if outcome.returncode != 0 else "SURVIVED"


def main(names: list[str]) -> int:
    chosen = [m for m in MUTANTS if not names or m[0] in names]
    verdicts = [(mutant[0], run(mutant)) for mutant in chosen]
    for name, verdict in verdicts:
        sys.stdout.write(f"{verdict:9} {name}\n")
    killed = sum(verdict == "KILLED" for _, verdict in verdicts)
    sys.stdout.write(f"{killed} of {len(verdicts)} killed\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
