"""HTTP handlers called with hand-built func.HttpRequest objects."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from ingestion.functions import http
from ingestion.functions.services import close_services
from tests.functions.conftest import AppEnv
from tests.functions.host import FunctionsHost, bodies


def request(method: str, route: str) -> func.HttpRequest:
    return func.HttpRequest(method=method, url=f"http://localhost/api/{route}", body=b"", headers={}, params={})


def answer(response: func.HttpResponse) -> tuple[int, dict]:
    assert response.mimetype == "application/json"
    return response.status_code, json.loads(response.get_body())


@pytest.mark.azurite
async def test_status_before_any_run(app_env: AppEnv) -> None:
    code, body = answer(await http.run_status(request("GET", "status")))
    assert code == 200
    assert body == {
        "index": {"name": "grounding-v3", "schema_version": 3, "documents": 0, "chunks": 0},
        "current": None,
        "last": None,
        "open_runs": [],
        "queues": {app_env.queue: 0, f"{app_env.queue}-poison": 0, "webjobs-blobtrigger-poison": 0},
        "live_failures": [],
    }


@pytest.mark.azurite
async def test_post_reindex_starts_a_run_and_enqueues_its_listing(app_env: AppEnv, host: FunctionsHost) -> None:
    code, body = answer(await http.reindex_now(request("POST", "reindex")))
    assert code == 202 and body["status"] == "listing"
    assert [(message["kind"], message["run"]) for message in bodies(await host.queue.peek_messages())] == [
        ("list", body["run"])
    ]
    code, status = answer(await http.run_status(request("GET", "status")))
    assert status["current"]["run"] == body["run"] and status["current"]["expected"] is None
    assert status["open_runs"] == [body["run"]]


@pytest.mark.azurite
async def test_health_is_ok_when_settings_and_storage_are(app_env: AppEnv) -> None:
    code, body = answer(await http.health(request("GET", "health")))
    assert code == 200
    assert body == {
        "status": "ok",
        "index": "grounding-v3",
        "blob_trigger_source": "EventGrid",
        "container": app_env.container,
        "queue": app_env.queue,
    }


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DocumentStorage": "UseDevelopmentStorage=true", "REINDEX_SCHEDULE": "every night"}, "REINDEX_SCHEDULE"),
        ({"DocumentStorage": "UseDevelopmentStorage=true", "REINDEX_QUEUE": "Bad_Queue"}, "REINDEX_QUEUE"),
        ({}, "DocumentStorage"),
    ],
)
async def test_health_and_routes_report_configuration_errors_without_secrets(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for name in (
        "DocumentStorage",
        "AzureWebJobsStorage",
        "AZURE_STORAGE_CONNECTION_STRING",
        "AZURE_STORAGE_ACCOUNT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_SEARCH_API_KEY", "s3cr3t-value")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    await close_services()
    try:
        code, body = answer(await http.health(request("GET", "health")))
        assert (code, body["status"]) == (503, "unhealthy") and named in body["error"]
        code, body = answer(await http.reindex_now(request("POST", "reindex")))
        assert code == 500 and named in body["error"]
        for response in (await http.health(request("GET", "health")), await http.run_status(request("GET", "status"))):
            assert b"s3cr3t" not in response.get_body()
    finally:
        await close_services()
