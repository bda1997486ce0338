"""Run records and queue messages as plain values (no storage)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ingestion.errors import BadInputError
from ingestion.runs.records import (
    DocumentMark,
    DocumentMessage,
    ListMessage,
    RunRecord,
    RunStatus,
    decode_message,
    encode_message,
    new_run_id,
)

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def run(**changes: object) -> RunRecord:
    base = {"run_id": "r", "status": RunStatus.RUNNING, "trigger": "timer", "scope": "blob:a/c/", "index_name": "ix"}
    return RunRecord(**{**base, "started_at": T0, "updated_at": T0, **changes})  # type: ignore[arg-type]


def test_run_ids_sort_newest_first_and_never_collide() -> None:
    ids = [new_run_id(T0 + timedelta(milliseconds=step)) for step in (0, 1, 1, 86_400_000)]
    assert sorted(ids) == [ids[3], *sorted(ids[1:3]), ids[0]]
    assert len(set(ids)) == 4


def test_counts_completion_and_stall() -> None:
    counts = {"added": 2, "updated": 1, "unchanged": 3, "deleted": 1, "failed": 2, "poisoned": 1}
    record = run(expected=9, counts=counts)
    assert (record.done, record.failed, record.recorded, record.complete) == (7, 2, 9, True)
    assert not run(expected=None, counts=counts).complete
    assert not run(expected=10, counts=counts).complete
    assert record.stalled(T0 + timedelta(seconds=61), 60) and not record.stalled(T0 + timedelta(seconds=59), 60)
    assert not run(status=RunStatus.DONE).stalled(T0 + timedelta(days=1), 60)
    view = record.as_dict(now=T0, stall_seconds=60)
    assert (view["done"], view["failed"], view["pending"], view["poisoned"], view["started_at"]) == (
        7,
        2,
        0,
        1,
        T0.isoformat(),
    )


def test_a_migration_run_shows_its_target_and_version() -> None:
    assert run().migration is None and run().as_dict(now=T0, stall_seconds=60)["migration"] is None
    migration = run(index_name="grounding-v3", target_version=3)
    assert migration.as_dict(now=T0, stall_seconds=60)["migration"] == {"target": "grounding-v3", "version": 3}


def test_a_mark_must_have_a_known_outcome_and_only_failures_are_poisoned() -> None:
    with pytest.raises(ValueError, match="unknown outcome"):
        DocumentMark("p", "exploded")
    with pytest.raises(ValueError, match="poisoned"):
        DocumentMark("p", "added", poisoned=True)


@pytest.mark.parametrize(
    "message",
    [
        ListMessage("r1"),
        DocumentMessage("r1", "blob:a/c/é x.pdf", "c/é x.pdf"),
        DocumentMessage("r1", "blob:a/c/x.md", "c/x.md", "grounding-v3", 3),  # a migration run's document
    ],
)
def test_messages_round_trip(message: ListMessage | DocumentMessage) -> None:
    assert decode_message(encode_message(message).encode("utf-8")) == message


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe",
        b"not json",
        b"[]",
        json.dumps({"v": 2, "kind": "list", "run": "r"}).encode(),
        json.dumps({"v": 1, "kind": "list"}).encode(),
        json.dumps({"v": 1, "kind": "document", "run": "r", "path": "p"}).encode(),
        json.dumps({"v": 1, "kind": "shred", "run": "r"}).encode(),
        json.dumps({"v": 1, "kind": "document", "run": "r", "source_id": "s", "path": "p", "index": "ix"}).encode(),
        json.dumps(
            {"v": 1, "kind": "document", "run": "r", "source_id": "s", "path": "p", "schema_version": 3}
        ).encode(),
    ],
)
def test_malformed_messages_are_bad_input(body: bytes) -> None:
    with pytest.raises(BadInputError, match="reindex message"):
        decode_message(body)
