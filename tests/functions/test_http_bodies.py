"""POST /api/reindex refuses malformed requests with a 400 and a one-line reason, never a 500 or parser internals.

These requests are refused before any service is built, so no Azurite is needed (issue 15's findings)."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from ingestion.functions import http


def post(body: bytes, params: dict[str, str] | None = None) -> func.HttpRequest:
    return func.HttpRequest(
        method="POST", url="http://localhost/api/reindex", body=body, headers={}, params=params or {}
    )


@pytest.mark.parametrize(
    ("body", "params", "needle"),
    [
        (b"[" * 20_000 + b"]" * 20_000, {}, "must be JSON"),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, {}, "must be JSON"),
        (b'{"schema_version": "\xc2\xb2"}', {}, "whole number"),
        (b'{"schema_version": "' + b"9" * 5000 + b'"}', {}, "whole number"),
        (b'{"schema_version": ' + b"9" * 5000 + b"}", {}, "must be JSON"),
        (b'{"schema_version": 1e400}', {}, "whole number"),
        (b'{"schema_version": true}', {}, "whole number"),
        (b'{"schema_version": -3}', {}, "whole number"),
        (b'{"schema_version": [[[[[[[[[[1]]]]]]]]]]}', {}, "whole number"),
        (b"\xff\xfe\x00garbage", {}, "must be JSON"),
        (b"[1, 2]", {}, "JSON object"),
        (b"x" * (http.MAX_BODY_BYTES + 1), {}, "over"),
        (b"", {"schema_version": "\u0663"}, "whole number"),
        (b"", {"schema_version": "1_0"}, "whole number"),
        (b"", {"schema_version": "9" * 5000}, "whole number"),
    ],
)
async def test_malformed_reindex_requests_are_400_with_one_line(
    body: bytes, params: dict[str, str], needle: str
) -> None:
    response = await http.reindex_now(post(body, params))
    assert response.status_code == 400
    answer = json.loads(response.get_body())
    message = answer["error"]
    assert set(answer) == {"error"} and needle in message
    assert "\n" not in message and len(message) < 200
    for internal in ("int_max_str_digits", "invalid literal", "Traceback", "RecursionError", "Expecting"):
        assert internal not in message
