"""Names and identities: blob URLs (any name a container allows), document and chunk keys, OData literals, golden
lines. Round-trips and no collisions; anything else is a one-line refusal."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from hypothesis import example, given
from hypothesis import strategies as st

from ingestion.errors import BadInputError, ConfigurationError
from ingestion.evaluation.runner import load_golden
from ingestion.indexing.azure.query import equals, odata_string
from ingestion.keys import MAX_KEY_LENGTH, chunk_key, document_key, identity_bytes, is_valid_key
from ingestion.sources.blob import blob_source_id, parse_blob_url
from ingestion.sources.names import is_text, shown_name
from tests.fakes.search_odata import FieldInfo, compile_filter

accounts = st.from_regex(r"\A[a-z0-9]{3,24}\Z")
containers = st.from_regex(r"\A[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}\Z")
# Blob names: 1-1,024 characters of valid Unicode (no lone surrogates); control characters are refused by the service.
name_chars = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
blob_names = st.text(alphabet=name_chars, min_size=1, max_size=120).filter(lambda name: name.strip("/") != "")
# What an fsdecode()d POSIX file name can be: any bytes but NUL and "/".
file_names = st.binary(min_size=1, max_size=60).map(lambda b: b.replace(b"\0", b"").replace(b"/", b"")).filter(bool)


@given(account=accounts, container=containers, name=blob_names)
@example(account="acct", container="docs", name="notes#1.txt")
@example(account="acct", container="docs", name="what?.md")
@example(account="acct", container="docs", name="/leading/and//double")
def test_percent_encoded_blob_urls_round_trip(account: str, container: str, name: str) -> None:
    encoded = quote(name, safe="/")
    for url in (
        f"https://{account}.blob.core.windows.net/{container}/{encoded}",
        f"http://127.0.0.1:10000/{account}/{container}/{encoded}",
    ):
        assert parse_blob_url(url) == (account, container, name)


@given(account=accounts, container=containers, name=blob_names.filter(lambda name: "%" not in name))
def test_raw_event_grid_urls_round_trip(account: str, container: str, name: str) -> None:
    """Event Grid may leave ``?``, ``#`` and other characters unencoded in ``data.url``."""
    url = f"https://{account}.blob.core.windows.net/{container}/{name}"
    assert parse_blob_url(url) == (account, container, name)


@given(url=st.one_of(st.text(max_size=200), st.from_regex(r"\Ahttps?://[^/]{0,30}(/[^/]{0,20}){0,4}\Z")))
@example(url="http://[::1/devstoreaccount1/docs/a")
@example(url="https://acct.blob.core.windows.net:99999/docs/a")
@example(url="https://acct.blob.core.windows.net/docs?sig=SECRETSIG")
def test_any_string_is_a_blob_or_a_one_line_refusal(url: str) -> None:
    try:
        account, container, name = parse_blob_url(url)
    except BadInputError as error:
        message = str(error)
        assert "\n" not in message and len(message) < 300 and "SECRETSIG" not in message
        return
    assert account and container and name
    assert blob_source_id(account, container, name).startswith(f"blob:{account}/{container}/")


@given(first=st.text(max_size=300), second=st.text(max_size=300))
@example(first="a" * 2000, second="a" * 1999 + "b")
@example(first="/docs/\udcff", second="/docs/\udcc3\udcbf")
def test_document_keys_are_valid_and_never_collide(first: str, second: str) -> None:
    keys = document_key(first), document_key(second)
    assert all(is_valid_key(key) and len(key) < MAX_KEY_LENGTH - 23 for key in keys)
    if identity_bytes(first) != identity_bytes(second):
        assert keys[0] != keys[1]


@given(names=st.lists(file_names, min_size=2, max_size=6, unique=True))
def test_file_names_that_are_not_utf8_keep_distinct_faithful_keys(names: list[bytes]) -> None:
    ids = ["/root/" + name.decode("utf-8", "surrogateescape") for name in names]
    keys = [document_key(source_id) for source_id in ids]
    assert len(set(keys)) == len(keys)
    for source_id, name in zip(ids, names, strict=True):
        assert identity_bytes(source_id) == b"/root/" + name  # the key encodes the name's own bytes
        shown = shown_name(source_id)
        assert is_text(shown) and (is_text(source_id) == (shown == source_id))


@given(parents=st.lists(st.text(max_size=40), min_size=1, max_size=4, unique=True), top=st.integers(1, 40))
def test_chunk_keys_never_collide(parents: list[str], top: int) -> None:
    keys = [chunk_key(document_key(parent), ordinal) for parent in parents for ordinal in range(top)]
    assert len(set(keys)) == len(keys) and all(is_valid_key(key) for key in keys)


SOURCE_PATH = {"source_path": FieldInfo("source_path", "Edm.String", filterable=True)}


@given(value=st.text(max_size=200))
@example(value="O'Brien")
@example(value="''")
@example(value="' or true or '")
def test_odata_literals_round_trip_through_the_filter_parser(value: str) -> None:
    literal = odata_string(value)
    assert literal[0] == literal[-1] == "'" and literal[1:-1].replace("''", "'") == value
    predicate = compile_filter(equals("source_path", value), SOURCE_PATH)
    assert predicate({"source_path": value}, {}) is True
    assert predicate({"source_path": value + "x"}, {}) is False


golden_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
golden_rows = st.one_of(
    st.fixed_dictionaries(
        {"id": st.one_of(st.text(max_size=8), st.integers()), "query": st.text(max_size=30)},
        optional={"relevant": st.one_of(st.lists(st.text(max_size=12), max_size=3), golden_values)},
    ),
    golden_values,
)


golden_lines = st.one_of(golden_rows.map(json.dumps), st.text(max_size=40))


@given(rows=st.lists(golden_lines, max_size=5), raw=st.binary(max_size=20))
@example(rows=["[" * 50_000], raw=b"")
@example(rows=[], raw=b"\xff\xfe")
def test_golden_sets_load_or_fail_with_one_line_naming_the_line(rows: list[str], raw: bytes, tmp_path_factory) -> None:
    path = Path(tmp_path_factory.mktemp("golden")) / "golden.jsonl"
    path.write_bytes("\n".join(rows).encode("utf-8", "surrogatepass") + raw)
    try:
        queries = load_golden(path)
    except ConfigurationError as error:
        message = str(error)
        assert message.startswith(str(path)) and "\n" not in message and len(message) < 300
        return
    for query in queries:
        assert query.query.strip() and query.relevant and all(isinstance(item, str) for item in query.relevant)
