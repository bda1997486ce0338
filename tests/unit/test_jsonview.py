"""The one dataclass -> JSON mechanism behind every result's ``as_dict``: field order, renames, skips, extra keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import pytest

from ingestion.deployment.estimate import Estimate
from ingestion.indexing.admin import IndexState, PhysicalIndex
from ingestion.jsonview import as_json, json_value
from ingestion.models import RunResult


class Color(StrEnum):
    RED = "red"


@dataclass
class Inner:
    at: datetime
    color: Color = Color.RED


@dataclass
class Outer:
    name: str
    inner: Inner
    items: list[Inner] = field(default_factory=list)
    count: int = 0


AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_fields_in_order_with_nested_values_converted() -> None:
    outer = Outer("x", Inner(AT), [Inner(AT)], 3)
    expected_inner = {"at": "2026-01-02T03:04:05+00:00", "color": "red"}
    assert as_json(outer) == {"name": "x", "inner": expected_inner, "items": [expected_inner], "count": 3}
    assert list(as_json(outer)) == ["name", "inner", "items", "count"]


def test_rename_keeps_the_place_values_replace_in_place_and_new_keys_append() -> None:
    outer = Outer("x", Inner(AT), count=2)
    view = as_json(outer, rename={"count": "total"}, skip=("items",), name="y", extra=1)
    assert list(view) == ["name", "inner", "total", "extra"]
    assert view["name"] == "y" and view["total"] == 2 and view["extra"] == 1


def test_a_value_without_a_json_form_is_refused() -> None:
    with pytest.raises(TypeError):
        json_value(object())


def test_the_public_json_of_results_is_unchanged() -> None:
    index = PhysicalIndex("g-v2", 2, 384, IndexState.BUILDING, created_at=AT)
    assert index.as_dict() == {"name": "g-v2", "version": 2, "dimensions": 384, "state": "building",
                               "created_at": AT.isoformat(), "retired_at": None}  # fmt: skip
    run = RunResult(documents=1, added=1, seconds=1.23456, failures=[{"source": "a", "error": "b"}])
    assert list(run.as_dict()) == ["documents", "added", "updated", "unchanged", "deleted", "failed", "chunks",
                                   "tokens_embedded", "seconds", "failures"]  # fmt: skip
    assert run.as_dict()["seconds"] == 1.235
    estimate = Estimate(model="m", dimensions=3, price_per_million=2.0, tokens=500_000)
    assert list(estimate.as_dict()) == ["model", "dimensions", "reembed_all", "documents", "documents_read", "failed",
                                        "chunks", "reused_chunks", "tokens_to_embed", "price_per_million_tokens",
                                        "estimated_cost", "failures"]  # fmt: skip
    assert estimate.as_dict()["estimated_cost"] == 1.0
