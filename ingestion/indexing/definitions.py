"""Building a schema version's definition from inside the pipeline: ``index_schemas`` raises its own ``SchemaError``
(it depends on nothing here); this is where that becomes a ``ConfigurationError`` for the backends and commands."""

from __future__ import annotations

from index_schemas import VERSIONS, SchemaParams, VectorizerParams
from index_schemas.errors import SchemaError
from index_schemas.types import IndexDefinition
from ingestion.errors import ConfigurationError


def build_definition(
    version: int,
    name: str,
    dimensions: int,
    *,
    vectorizer: VectorizerParams | None = None,
    compression: str | None = None,
) -> IndexDefinition:
    """``VERSIONS[version]`` for these parameters; ConfigurationError for an unknown version or a bad parameter."""
    if version not in VERSIONS:
        raise ConfigurationError(f"unknown index schema version {version}; known: {sorted(VERSIONS)}")
    try:
        params = SchemaParams(name=name, dimensions=dimensions, vectorizer=vectorizer, compression=compression)
    except SchemaError as error:
        raise ConfigurationError(str(error)) from None
    return VERSIONS[version](params)
