"""The app as the host indexes it: app.get_functions() of a freshly imported function_app, for each setting that
shapes it. The library accepts a wrong arg_name or a misspelt blob source silently; these tests do not."""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import azure.functions as func
import pytest
from azurefunctions.extensions.bindings.blob import BlobClient, BlobClientConverter

from ingestion.errors import ConfigurationError
from ingestion.functions import services
from ingestion.settings import BLOB_TRIGGER_SOURCES, STORAGE_CONNECTION
from tests.functions.host import bindings, fresh_app

ROOT = Path(__file__).resolve().parents[2]
HOST_BLOB_SOURCES = {source.value for source in func.BlobSource}  # what the host accepts


@pytest.fixture
def functions(monkeypatch: pytest.MonkeyPatch) -> dict[str, typing.Any]:
    monkeypatch.delenv("BLOB_TRIGGER_SOURCE", raising=False)
    app = fresh_app().app
    return {function.get_function_name(): function for function in app.get_functions()}


def http(route: str, method: str) -> list[dict[str, object]]:
    trigger = {"direction": "IN", "type": "httpTrigger", "name": "req", "methods": [method], "authLevel": "FUNCTION"}
    return [{**trigger, "route": route}, {"direction": "OUT", "type": "http", "name": "$return"}]


def test_every_function_has_exactly_the_expected_trigger(functions: dict) -> None:
    timer = {"direction": "IN", "type": "timerTrigger", "name": "timer", "runOnStartup": False, "useMonitor": True}
    assert {name: bindings(function) for name, function in functions.items()} == {
        "ingest_blob": [
            {
                "direction": "IN",
                "type": "blobTrigger",
                "name": "blob",
                "path": "%SOURCE_CONTAINER%/{name}",
                "connection": STORAGE_CONNECTION,
                "source": "EventGrid",
            }
        ],
        "delete_blob": [{"direction": "IN", "type": "eventGridTrigger", "name": "event"}],
        "reindex_timer": [{**timer, "schedule": "%REINDEX_SCHEDULE%"}],
        "reindex_worker": [
            {
                "direction": "IN",
                "type": "queueTrigger",
                "name": "message",
                "queueName": "%REINDEX_QUEUE%",
                "connection": STORAGE_CONNECTION,
            }
        ],
        "reindex_reconcile": [{**timer, "schedule": "0 */10 * * * *"}],
        "reindex_now": http("reindex", "POST"),
        "run_status": http("status", "GET"),
        "health": http("health", "GET"),
    }


def test_each_binding_name_is_a_parameter_of_its_handler(functions: dict) -> None:
    for name, function in functions.items():
        parameters = dict(inspect.signature(function.get_user_function()).parameters)
        context = parameters.pop("context", None)  # the worker passes the invocation's func.Context by this name
        inputs = {binding["name"] for binding in bindings(function) if binding["direction"] == "IN"}
        assert inputs == set(parameters), name
        if context is not None:  # the worker's own check: the annotation must be a class deriving from Context
            assert isinstance(context.annotation, type) and issubclass(context.annotation, func.Context), name
        assert inspect.iscoroutinefunction(function.get_user_function()), name


def test_every_trigger_takes_the_invocation_context_for_trace_correlation(functions: dict) -> None:
    without = {
        name for name, f in functions.items() if "context" not in inspect.signature(f.get_user_function()).parameters
    }
    assert without == {"health"}  # health only reads; everything else continues the host's trace


def test_handler_annotations_are_types_the_worker_binds(functions: dict) -> None:
    hints = {name: typing.get_type_hints(function.get_user_function()) for name, function in functions.items()}
    # The blob trigger binds to the SDK type: the host sends a reference, never the content.
    assert hints["ingest_blob"]["blob"] is BlobClient
    assert BlobClientConverter.check_input_type_annotation(hints["ingest_blob"]["blob"])
    assert hints["delete_blob"]["event"] is func.EventGridEvent
    assert hints["reindex_worker"]["message"] is func.QueueMessage
    assert hints["reindex_timer"]["timer"] is func.TimerRequest
    assert hints["reindex_reconcile"]["timer"] is func.TimerRequest
    for name in ("reindex_now", "run_status", "health"):
        assert (hints[name]["req"], hints[name]["return"]) == (func.HttpRequest, func.HttpResponse)


@pytest.mark.parametrize(("setting", "expected"), [(None, "EventGrid"), *((s, s) for s in BLOB_TRIGGER_SOURCES)])
def test_blob_source_follows_the_setting_and_is_one_the_host_accepts(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, expected: str
) -> None:
    if setting is None:
        monkeypatch.delenv("BLOB_TRIGGER_SOURCE", raising=False)
    else:
        monkeypatch.setenv("BLOB_TRIGGER_SOURCE", setting)
    [function] = [f for f in fresh_app().app.get_functions() if f.get_function_name() == "ingest_blob"]
    [trigger] = bindings(function)
    assert trigger["source"] == expected
    assert trigger["source"] in HOST_BLOB_SOURCES


def test_a_misspelt_blob_source_stops_indexing_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLOB_TRIGGER_SOURCE", "Eventgrid")
    with pytest.raises(ConfigurationError, match="BLOB_TRIGGER_SOURCE='Eventgrid' is not one of"):
        fresh_app()
    monkeypatch.delenv("BLOB_TRIGGER_SOURCE")
    fresh_app()


def test_importing_the_app_builds_nothing_and_reads_only_what_decorators_need(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHUNK_MAX_TOKENS", "not a number")  # would fail Settings.from_env: not read at import
    monkeypatch.delenv("BLOB_TRIGGER_SOURCE", raising=False)
    monkeypatch.setattr(services, "_cache", None)
    assert len(fresh_app().app.get_functions()) == 8
    assert services._cache is None


def test_function_app_is_only_a_composition_root() -> None:
    tree = ast.parse((ROOT / "function_app.py").read_text())
    imports = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imports |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imports == {"azure.functions", "ingestion.functions"}
    assert not [node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
    code = [line for line in ast.unparse(tree).splitlines() if line.strip() and not line.startswith(("'", '"'))]
    assert len(code) <= 8


def test_only_the_functions_package_imports_azure_functions() -> None:
    offenders = []
    for path in [*(ROOT / "ingestion").rglob("*.py"), *(ROOT / "index_schemas").rglob("*.py")]:
        if (ROOT / "ingestion" / "functions") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(
                name == "azure.functions" or name.startswith(("azure.functions.", "azurefunctions")) for name in names
            ):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
