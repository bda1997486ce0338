"""LocalFolderSource against real files in tmp_path: what is listed, identities, versions, reads and their errors."""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import UTC
from pathlib import Path

import pytest

from ingestion.errors import BadInputError, ConfigurationError, DocumentTooLargeError
from ingestion.models import SourceItem
from ingestion.sources import local as local_source
from ingestion.sources.local import LocalFolderSource


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


async def listed(source: LocalFolderSource) -> dict[str, SourceItem]:
    items = [item async for item in source.list()]
    by_id = {item.source_id: item for item in items}
    assert len(by_id) == len(items), "an item was listed twice"
    return by_id


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    write(folder / "a.txt", "alpha")
    write(folder / "sub" / "b.md", "# beta")
    write(folder / "sub" / "deeper" / "c.html", "<p>gamma</p>")
    return folder


async def test_lists_recursively_with_absolute_ids(root: Path) -> None:
    source = LocalFolderSource(root)
    items = await listed(source)
    base = root.resolve().as_posix()
    assert set(items) == {f"{base}/a.txt", f"{base}/sub/b.md", f"{base}/sub/deeper/c.html"}
    assert source.scope == base + "/"
    for source_id, item in items.items():
        assert item.path == source_id
        assert source_id.startswith(source.scope)
    a = items[f"{base}/a.txt"]
    assert a.size == 5
    assert a.content_version == "sha256:" + hashlib.sha256(b"alpha").hexdigest()
    assert a.content_type == "text/plain"
    assert a.last_modified.tzinfo is UTC
    assert abs(a.last_modified.timestamp() - (root / "a.txt").stat().st_mtime) < 1e-3
    assert items[f"{base}/sub/deeper/c.html"].content_type == "text/html"


async def test_hidden_files_and_directories_are_skipped(root: Path) -> None:
    write(root / ".secret.txt", "hidden file")
    write(root / ".git" / "config", "hidden dir")
    write(root / "sub" / ".cache" / "x.txt", "nested hidden dir")
    write(root / "sub" / "visible.txt", "shown")
    items = await listed(LocalFolderSource(root))
    names = sorted(item.path.removeprefix(root.resolve().as_posix() + "/") for item in items.values())
    assert names == ["a.txt", "sub/b.md", "sub/deeper/c.html", "sub/visible.txt"]


async def test_symlinks_out_of_root_are_skipped(tmp_path: Path, root: Path) -> None:
    outside = tmp_path / "outside"
    write(outside / "leak.txt", "must not be listed")
    (root / "leak.txt").symlink_to(outside / "leak.txt")
    (root / "leakdir").symlink_to(outside, target_is_directory=True)
    (root / "broken.txt").symlink_to(tmp_path / "missing.txt")
    source = LocalFolderSource(root)
    items = await listed(source)
    assert not any("leak" in source_id or "broken" in source_id for source_id in items)
    assert len(items) == 3
    assert await source.get(f"{source.scope}leak.txt") is None
    assert await source.get(f"{source.scope}leakdir/leak.txt") is None


async def test_symlinked_file_inside_root_is_listed_under_its_own_path(root: Path) -> None:
    (root / "alias.txt").symlink_to(root / "sub" / "b.md")
    write(root / ".private" / "p.txt", "hidden target")
    (root / "peek.txt").symlink_to(root / ".private" / "p.txt")
    source = LocalFolderSource(root)
    items = await listed(source)
    alias = items[f"{source.scope}alias.txt"]
    original = items[f"{source.scope}sub/b.md"]
    assert alias.content_version == original.content_version
    assert await source.read(alias, max_bytes=100) == b"# beta"
    assert f"{source.scope}peek.txt" not in items, "a link must not expose a hidden file"


async def test_symlink_loops_do_not_hang(root: Path) -> None:
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    (root / "self").symlink_to(root / "self")
    (root / "ping").symlink_to(root / "pong")
    (root / "pong").symlink_to(root / "ping")
    source = LocalFolderSource(root)
    items = await asyncio.wait_for(listed(source), timeout=10)
    assert len(items) == 3
    assert await source.get(f"{source.scope}ping") is None


async def test_fifo_is_skipped(root: Path) -> None:
    os.mkfifo(root / "pipe.txt")
    items = await asyncio.wait_for(listed(LocalFolderSource(root)), timeout=10)
    assert len(items) == 3


async def test_single_file_root(root: Path) -> None:
    source = LocalFolderSource(root / "sub" / "b.md")
    items = await listed(source)
    expected = (root / "sub" / "b.md").resolve().as_posix()
    assert list(items) == [expected]
    assert source.scope == expected
    assert await source.read(items[expected], max_bytes=6) == b"# beta"
    assert await source.get(expected) == items[expected]
    assert await source.get(expected + "x") is None


async def test_non_ascii_names_and_spaces(root: Path) -> None:
    path = write(root / "Überblick Ordner" / "naïve résumé 日本語.txt", "héllo wörld")
    source = LocalFolderSource(root)
    items = await listed(source)
    source_id = path.resolve().as_posix()
    item = items[source_id]
    assert item.name == "naïve résumé 日本語.txt"
    assert await source.read(item, max_bytes=1000) == "héllo wörld".encode()
    assert await source.get(source_id) == item


async def test_version_is_stable_and_changes_with_content(root: Path) -> None:
    source = LocalFolderSource(root)
    source_id = f"{source.scope}a.txt"
    first = (await listed(source))[source_id]
    again = await source.get(source_id)
    assert again is not None
    assert again.content_version == first.content_version
    os.utime(root / "a.txt", (1_000_000, 1_000_000))  # touching alone does not change the version
    touched = await source.get(source_id)
    assert touched is not None
    assert touched.content_version == first.content_version
    write(root / "a.txt", "alphb")
    changed = await source.get(source_id)
    assert changed is not None
    assert changed.content_version != first.content_version
    assert changed.content_version == "sha256:" + hashlib.sha256(b"alphb").hexdigest()


async def test_get_applies_the_listing_rules(root: Path) -> None:
    write(root / ".hidden" / "h.txt", "hidden")
    source = LocalFolderSource(root)
    assert await source.get(f"{source.scope}sub/b.md") == (await listed(source))[f"{source.scope}sub/b.md"]
    assert await source.get(f"{source.scope}.hidden/h.txt") is None
    assert await source.get(f"{source.scope}sub/../a.txt") is None
    assert await source.get(f"{source.scope}sub") is None
    assert await source.get(f"{source.scope}nope.txt") is None
    assert await source.get("/elsewhere/a.txt") is None


async def test_too_large_names_the_limit(root: Path) -> None:
    write(root / "big.bin", b"x" * 2048)
    source = LocalFolderSource(root)
    item = await source.get(f"{source.scope}big.bin")
    assert item is not None
    assert await source.read(item, max_bytes=2048) == b"x" * 2048
    with pytest.raises(DocumentTooLargeError, match=r"2047-byte") as caught:
        await source.read(item, max_bytes=2047)
    assert "big.bin" in str(caught.value)


async def test_file_that_grew_after_listing_is_refused(root: Path) -> None:
    source = LocalFolderSource(root)
    item = (await listed(source))[f"{source.scope}a.txt"]
    write(root / "a.txt", "alpha" * 100)
    with pytest.raises(DocumentTooLargeError, match="100-byte"):
        await source.read(item, max_bytes=100)


async def test_vanished_file_is_bad_input(root: Path) -> None:
    source = LocalFolderSource(root)
    item = (await listed(source))[f"{source.scope}sub/b.md"]
    (root / "sub" / "b.md").unlink()
    with pytest.raises(BadInputError, match="no longer exists") as caught:
        await source.read(item, max_bytes=1000)
    assert "b.md" in str(caught.value)
    assert await source.get(item.source_id) is None


async def test_unreadable_file_is_listed_and_fails_on_read(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = write(root / "locked.txt", "no entry")
    locked.chmod(0)
    if os.geteuid() == 0:  # root ignores file permissions: refuse the open as the kernel would for anyone else
        real_open = open

        def guarded(file: object, *args: object, **kwargs: object) -> object:
            if Path(str(file)).name == "locked.txt":
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

        monkeypatch.setattr(local_source, "open", guarded, raising=False)
    try:
        source = LocalFolderSource(root)
        item = (await listed(source))[f"{source.scope}locked.txt"]
        assert item.content_version.startswith("unreadable:")
        with pytest.raises(BadInputError, match="permission denied"):
            await source.read(item, max_bytes=1000)
    finally:
        locked.chmod(0o600)


def test_missing_root_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        LocalFolderSource(tmp_path / "absent")
