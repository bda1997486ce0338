"""The circuit (``ingestion/circuit.py``) of one Azure AI Search client, as an azure-core per-retry policy.

Every attempt of every request the client sends (searches, lookups, indexing batches, definitions) passes through it:
before sending, an open circuit raises ServiceDownError (not an AzureError, so no retry policy or adapter swallows it);
any HTTP response closes it; a request that got no response at all (connection refused or lost, timeout) counts as
unanswered from the moment it was sent.
"""

from __future__ import annotations

import sys
from typing import Any

from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.core.pipeline.policies import SansIOHTTPPolicy

from ingestion.circuit import Circuit

_STARTED = "ingestion_circuit_started"


class CircuitPolicy(SansIOHTTPPolicy):  # type: ignore[type-arg]
    def __init__(self, circuit: Circuit) -> None:
        self.circuit = circuit

    def on_request(self, request: Any) -> None:
        self.circuit.check()
        request.context[_STARTED] = self.circuit.now()

    def on_response(self, request: Any, response: Any) -> None:
        self.circuit.answered()

    def on_exception(self, request: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ServiceRequestError | ServiceResponseError):
            reason = f"no answer ({type(error).__name__})"
            self.circuit.unanswered(reason, started=request.context.get(_STARTED))
