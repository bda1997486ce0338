"""Azure Functions entry point (Python v2 model): a composition root that only registers the blueprints.

Triggers live in ingestion/functions/; see docs/functions.md for settings, local development and deployment.
"""

import azure.functions as func

from ingestion.functions import blobs, http, invocation, reindex

invocation.prepare_process()
app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (blobs.bp, reindex.bp, http.bp):
    app.register_functions(blueprint)
