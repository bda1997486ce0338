"""What an index definition is built from: name, vector dimensions, and the optional vectorizer and compression.

Validated at construction so that a bad value fails before any definition (or request) is built.
"""

from __future__ import annotations

from dataclasses import dataclass

from index_schemas.errors import SchemaError
from index_schemas.names import is_valid_index_name

MAX_VECTOR_DIMENSIONS = 4096
COMPRESSIONS = ("scalar", "binary")


@dataclass(frozen=True)
class VectorizerParams:
    """The Azure OpenAI deployment the search service itself calls to vectorize text queries.

    No key: the definition never carries a secret, so the service authenticates with its managed identity (grant it
    Cognitive Services OpenAI User on the OpenAI resource).
    """

    endpoint: str
    deployment: str
    model_name: str

    def __post_init__(self) -> None:
        for label, value in (("endpoint", self.endpoint), ("deployment", self.deployment), ("model", self.model_name)):
            if not value or not value.strip():
                raise SchemaError(f"vectorizer {label} must not be empty")


@dataclass(frozen=True)
class SchemaParams:
    """Inputs of every ``build(params) -> IndexDefinition`` in this package."""

    name: str
    dimensions: int
    vectorizer: VectorizerParams | None = None
    compression: str | None = None

    def __post_init__(self) -> None:
        if not is_valid_index_name(self.name):
            raise SchemaError(f"{self.name!r} is not a valid Azure AI Search index name")
        if not 1 <= self.dimensions <= MAX_VECTOR_DIMENSIONS:
            raise SchemaError(f"vector dimensions must be 1-{MAX_VECTOR_DIMENSIONS}, got {self.dimensions}")
        if self.compression is not None and self.compression not in COMPRESSIONS:
            raise SchemaError(f"compression must be one of {', '.join(COMPRESSIONS)} or none")
