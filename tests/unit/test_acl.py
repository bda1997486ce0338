"""ingestion/acl.py: the ACL formats (blob metadata, sidecar), the public sentinel, the trimming rule and filter,
plus the sidecar rules of the folder source."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingestion.acl import (
    MAX_IDS,
    PUBLIC,
    Acl,
    AclDefault,
    Principal,
    from_metadata,
    from_sidecar,
    parse_ids,
    principal_from_options,
    resolve,
)
from ingestion.errors import BadInputError, ConfigurationError
from ingestion.models import SourceItem
from ingestion.settings import Settings
from ingestion.sources.local import LocalFolderSource


def test_metadata_ids_are_comma_separated_trimmed_and_deduplicated() -> None:
    assert from_metadata({"groups": " g1, g2 ,,g1;g3 "}, path="c/a.md") == Acl.of(groups=["g1", "g2", "g3"])
    assert from_metadata({"OIDs": "u1", "Groups": ""}, path="c/a.md") == Acl.of(oids=["u1"])  # keys: any case
    assert from_metadata({"groups": ""}, path="c/a.md") == Acl()  # present but empty: nobody
    assert from_metadata({"department": "hr"}, path="c/a.md") is None  # says nothing: ACL_DEFAULT
    assert from_metadata({"groups": "g1,*"}, path="c/a.md") == Acl.public()  # '*' anywhere: everyone


@pytest.mark.parametrize("value", ["x" * 257, "a\tb", " ,\x7f"])
def test_bad_metadata_ids_are_bad_input_naming_the_document(value: str) -> None:
    with pytest.raises(BadInputError, match=r"^c/a.md: metadata groups: "):
        from_metadata({"groups": value}, path="c/a.md")


def test_too_many_ids_are_bad_input() -> None:
    parse_ids(",".join(f"g{n}" for n in range(MAX_IDS)), what="x")
    with pytest.raises(BadInputError, match=f"at most {MAX_IDS}"):
        parse_ids(",".join(f"g{n}" for n in range(MAX_IDS + 1)), what="x")


def test_sidecars_hold_two_optional_lists_of_strings() -> None:
    assert from_sidecar(b'{"oids": ["u1"], "groups": ["g2", "g1"]}', path="s") == Acl(("u1",), ("g1", "g2"))
    assert from_sidecar(b"{}", path="s") == Acl()
    for bad, reason in [
        (b"not json", "not a JSON ACL"),
        (b'["g1"]', "JSON object"),
        (b'{"groups": "g1"}', "lists of strings"),
        (b'{"groups": [1]}', "ids must be strings"),
        (b'{"groups": ["a,b"]}', "comma"),
        (b'{"readers": []}', "nothing else"),
        (b"\xff\xfe", "not a JSON ACL"),
    ]:
        with pytest.raises(BadInputError, match=reason):
            from_sidecar(bad, path="s")


def test_the_default_applies_only_when_the_source_says_nothing() -> None:
    assert resolve(None, AclDefault.PUBLIC) == Acl.public() and Acl.public().groups == (PUBLIC,)
    assert resolve(None, AclDefault.PRIVATE) == Acl()
    assert resolve(Acl(), AclDefault.PUBLIC) == Acl()  # an explicit empty ACL stays private
    assert Acl.of(["b", "a"], ["g"]).digest() == Acl.of(["a", "b", "a"], ["g"]).digest() != Acl.of(["a"]).digest()


def test_the_rule_public_or_listed_oid_or_listed_group() -> None:
    bob = Principal.of("bob", ["eng", "it's"])
    assert bob.visible((), (PUBLIC,)) and bob.visible(("bob",), ()) and bob.visible((), ("it's",))
    assert not bob.visible(("alice",), ("hr",)) and not bob.visible((), ())
    assert not Principal.of(None, []).visible(("bob",), ("eng",))
    assert Principal.of(PUBLIC, []).visible((PUBLIC,), ()) is True  # '*' as an oid matches only a literal '*'


def test_principals_from_the_command_line() -> None:
    assert principal_from_options(None, None) is None
    assert principal_from_options("u1", None) == Principal("u1", ())
    assert principal_from_options(None, " g1, g2,,g1") == Principal(None, ("g1", "g2"))
    with pytest.raises(ConfigurationError, match="--user"):
        principal_from_options("a,b", None)
    with pytest.raises(ConfigurationError, match="at most 1000"):
        principal_from_options(None, ",".join(f"g{n}" for n in range(1001)))


def test_acl_settings_are_validated() -> None:
    settings = Settings.from_env({})
    assert (settings.acl_source, settings.acl_default, settings.storage_dfs_url) == ("metadata", "public", None)
    assert Settings.from_env({"ACL_DEFAULT": "private", "ACL_SOURCE": "adls"}).acl_default == "private"
    for name, value in [("ACL_DEFAULT", "nobody"), ("ACL_SOURCE", "sharepoint"), ("AZURE_STORAGE_DFS_URL", "http://x.y")]:
        with pytest.raises(ConfigurationError, match=name):
            Settings.from_env({name: value})


def item(path: Path) -> SourceItem:
    return SourceItem(str(path), str(path), 1, datetime.now(UTC), "v")


async def test_the_folder_source_reads_sidecars_and_never_lists_them(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("a")
    (tmp_path / "a.md.acl.json").write_text(json.dumps({"groups": ["g1"]}))
    (tmp_path / "b.md").write_text("b")
    (tmp_path / "orphan.acl.json").write_text("{}")
    source = LocalFolderSource(tmp_path)
    listed = {i.name: i async for i in source.list()}
    assert set(listed) == {"a.md", "b.md"}
    assert await source.get(str(tmp_path / "orphan.acl.json")) is None
    assert await source.acl(listed["a.md"]) == Acl.of(groups=["g1"])
    assert await source.acl(listed["b.md"]) is None
    os.symlink(tmp_path / "a.md.acl.json", tmp_path / "b.md.acl.json")
    with pytest.raises(BadInputError, match="not a regular file"):
        await source.acl(listed["b.md"])
    (tmp_path / "a.md.acl.json").write_bytes(b" " * (256 * 1024 + 1))
    with pytest.raises(BadInputError, match=r"a.md: .* is over"):
        await source.acl(item(tmp_path / "a.md"))
