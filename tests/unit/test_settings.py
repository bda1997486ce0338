from __future__ import annotations

from pathlib import Path

import pytest

from index_schemas.names import is_valid_index_name
from ingestion.errors import ConfigurationError
from ingestion.settings import Secret, Settings


def test_defaults_are_the_embedded_stack() -> None:
    s = Settings.from_env({})
    assert (s.embedding_backend, s.index_backend) == ("local", "local")
    assert s.local_index_path == Path(".ingestion/index.sqlite")
    assert (s.chunk_max_tokens, s.chunk_overlap_tokens) == (256, 64)  # what the local model reads
    assert (s.rrf_k, s.hybrid_vector_weight) == (60, 6.0)
    assert Settings.from_env({"HYBRID_VECTOR_WEIGHT": "1.5"}).hybrid_vector_weight == 1.5
    assert (s.hybrid_fusion, s.hybrid_exact_term_vector_weight) == ("exact-term", 0.5)


def test_the_exact_term_rule_reaches_the_local_index_unless_fusion_is_fixed(tmp_path: Path) -> None:
    from ingestion import wiring
    from ingestion.indexing.fusion import ExactTermRule

    env = {"LOCAL_INDEX_PATH": str(tmp_path / "i.sqlite"), "HYBRID_EXACT_TERM_VECTOR_WEIGHT": "0.25"}
    index = wiring.build_index(Settings.from_env(env), dimensions=4)
    assert index.exact_term_rule == ExactTermRule(0.25)  # type: ignore[attr-defined]
    fixed = wiring.build_index(Settings.from_env({**env, "HYBRID_FUSION": "fixed"}), dimensions=4)
    assert fixed.exact_term_rule is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("env", "size"),
    [
        ({"EMBEDDING_BACKEND": "hash"}, 512),
        ({"AZURE_OPENAI_ENDPOINT": "https://x", "AZURE_OPENAI_EMBEDDING_DEPLOYMENT": "e"}, 512),
        ({"EMBEDDING_BACKEND": "local", "CHUNK_MAX_TOKENS": "512"}, 512),
        ({"CHUNK_MAX_TOKENS": ""}, 256),
    ],
)
def test_the_chunk_size_defaults_to_what_the_embedder_reads(env: dict[str, str], size: int) -> None:
    assert Settings.from_env(env).chunk_max_tokens == size


def test_backends_default_to_azure_when_endpoints_are_set() -> None:
    s = Settings.from_env(
        {
            "AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com",
            "AZURE_OPENAI_EMBEDDING_DEPLOYMENT": "emb",
            "AZURE_SEARCH_ENDPOINT": "https://x.search.windows.net",
        }
    )
    assert (s.embedding_backend, s.index_backend) == ("azure_openai", "azure_search")
    assert Settings.from_env({"AZURE_SEARCH_ENDPOINT": "https://x", "INDEX_BACKEND": "local"}).index_backend == "local"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CHUNK_MAX_TOKENS": "big"}, "CHUNK_MAX_TOKENS"),
        ({"CHUNK_MAX_TOKENS": "8"}, "CHUNK_MAX_TOKENS"),
        ({"CHUNK_OVERLAP_TOKENS": "600"}, "CHUNK_OVERLAP_TOKENS"),
        ({"EMBEDDING_BACKEND": "bert"}, "EMBEDDING_BACKEND"),
        ({"INDEX_BACKEND": "elastic"}, "INDEX_BACKEND"),
        ({"EMBEDDING_BACKEND": "azure_openai"}, "AZURE_OPENAI_ENDPOINT"),
        ({"AZURE_OPENAI_ENDPOINT": "https://x"}, "AZURE_OPENAI_EMBEDDING_DEPLOYMENT"),
        ({"INDEX_BACKEND": "azure_search"}, "AZURE_SEARCH_ENDPOINT"),
        ({"AZURE_SEARCH_INDEX": "Bad--Name"}, "AZURE_SEARCH_INDEX"),
        ({"MAX_DOCUMENT_BYTES": "0"}, "MAX_DOCUMENT_BYTES"),
        ({"EMBED_HEADINGS": "maybe"}, "EMBED_HEADINGS"),
        ({"BLOB_TRIGGER_SOURCE": "Eventgrid"}, "BLOB_TRIGGER_SOURCE"),
        ({"HYBRID_VECTOR_WEIGHT": "0"}, "HYBRID_VECTOR_WEIGHT"),
        ({"HYBRID_VECTOR_WEIGHT": "nan"}, "HYBRID_VECTOR_WEIGHT"),
        ({"HYBRID_VECTOR_WEIGHT": "heavy"}, "HYBRID_VECTOR_WEIGHT"),
        ({"HYBRID_FUSION": "adaptive"}, "HYBRID_FUSION"),
        ({"HYBRID_EXACT_TERM_VECTOR_WEIGHT": "0"}, "HYBRID_EXACT_TERM_VECTOR_WEIGHT"),
    ],
)
def test_invalid_values_fail_fast_naming_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        Settings.from_env(env)


def test_secrets_never_show() -> None:
    s = Settings.from_env({"AZURE_SEARCH_API_KEY": "s3cr3t-key", "AZURE_OPENAI_API_KEY": "other-s3cr3t"})
    assert isinstance(s.azure_search_api_key, Secret) and s.azure_search_api_key.get() == "s3cr3t-key"
    for text in (repr(s), str(s), f"{s.azure_openai_api_key}"):
        assert "s3cr3t" not in text


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("grounding", True),
        ("grounding-v1", True),
        ("a_b", True),
        ("G", False),
        ("-x", False),
        ("a--b", False),
        ("a__b", False),
        ("Upper", False),
        ("x" * 129, False),
        ("é1", False),
    ],
)
def test_index_name_rules(name: str, ok: bool) -> None:
    assert is_valid_index_name(name) is ok
