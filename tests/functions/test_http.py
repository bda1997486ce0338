"""HTTP handlers called with hand-built func.HttpRequest objects."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from ingestion.functions import http, reindex
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
async def test_a_second_post_while_a_full_run_is_open_returns_that_run_unless_forced(
    app_env: AppEnv, host: FunctionsHost
) -> None:
    code, first = answer(await http.reindex_now(request("POST", "reindex")))
    assert code == 202 and first["started"] is True
    code, second = answer(await http.reindex_now(request("POST", "reindex")))
    assert code == 202 and second["run"] == first["run"] and second["started"] is False
    assert len(await host.queue.peek_messages(max_messages=32)) == 1  # nothing more was enqueued

    forced = func.HttpRequest(method="POST", url="http://localhost/api/reindex", body=b'{"force": true}')
    code, third = answer(await http.reindex_now(forced))
    assert code == 202 and third["started"] is True and third["run"] != first["run"]
    code, status = answer(await http.run_status(request("GET", "status")))
    assert set(status["open_runs"]) == {first["run"], third["run"]}

    bad = func.HttpRequest(method="POST", url="http://localhost/api/reindex", body=b'{"force": "yes"}')
    code, body = answer(await http.reindex_now(bad))
    assert code == 400 and "force" in body["error"]


@pytest.mark.azurite
async def test_after_the_open_run_finished_a_post_starts_a_new_one(app_env: AppEnv, host: FunctionsHost) -> None:
    code, first = answer(await http.reindex_now(request("POST", "reindex")))
    assert await host.drain(reindex.reindex_worker) == []  # an empty container: listed, complete, done
    code, status = answer(await http.run_status(request("GET", "status")))
    assert status["last"]["run"] == first["run"] and status["last"]["status"] == "done"
    code, second = answer(await http.reindex_now(request("POST", "reindex")))
    assert code == 202 and second["started"] is True and second["run"] != first["run"]


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
