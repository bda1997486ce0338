"""The one error ``index_schemas`` raises: a definition, name or parameter that cannot be built.

``index_schemas`` depends on nothing in ``ingestion``, so it cannot raise ``ingestion.errors.ConfigurationError``; the
application treats ``SchemaError`` as a configuration error (stop, exit code 2) wherever it handles one.
"""

from __future__ import annotations


class SchemaError(ValueError):
    """An invalid index name, schema version, vector size, compression or vectorizer. ``str(error)`` is one line."""
