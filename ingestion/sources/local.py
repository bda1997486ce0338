"""Documents from a local folder, or from one file.

What is listed, and why:

- The folder is walked recursively with ``os.scandir``, one directory at a time in a worker thread, so only one
  directory's entries are ever held in memory.
- Hidden entries (name starting with ``.``) are skipped, files and directories alike, at any depth below the root.
- Symbolic links never lead out of the root. A **directory** link is never descended into, wherever it points: that
  rules out loops and escapes with one rule. A **file** link is listed only when its resolved target is a regular
  file inside the resolved root and not under a hidden part of it; its ``source_id`` is the link's own path, not the
  target's, so two links to one file are two documents, as a user browsing the folder sees them.
- Anything that is not a regular file (fifo, socket, device, broken link) is skipped.
- ``NAME.acl.json`` is never a document: it is the access-control sidecar of ``NAME`` beside it
  (``{"oids": [...], "groups": [...]}``, see ingestion/acl.py). Only a regular file (not a link) counts; a document
  without one gets ``ACL_DEFAULT``; a sidecar that is not valid fails its document with a one-line reason.

``source_id`` and ``path`` are the absolute POSIX path (the root resolved, the rest as walked); ``scope`` is the root
plus ``/`` (for a one-file root, the file's own path). ``content_version`` is ``sha256:<hex>`` of the content; a file
that exists but cannot be opened gets ``unreadable:<size>:<mtime_ns>`` so that it is still listed (and then fails
visibly in ``read``) instead of vanishing from the listing and being deleted from the index.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from ingestion.acl import Acl, from_sidecar
from ingestion.errors import BadInputError, ConfigurationError, DocumentTooLargeError, TransientError
from ingestion.models import SourceItem
from ingestion.sources.names import is_text, shown_name

SIDECAR_SUFFIX = ".acl.json"
MAX_SIDECAR_BYTES = 256 * 1024


class LocalFolderSource:
    """A ``Source`` over a folder tree (or a single file) on the local file system."""

    def __init__(self, root: Path | str) -> None:
        try:
            resolved = Path(root).resolve(strict=True)
        except (OSError, RuntimeError) as error:
            shown = shown_name(str(root))
            raise ConfigurationError(f"source folder {shown} does not exist or cannot be resolved") from error
        if not is_text(resolved.as_posix()):
            shown = shown_name(resolved.as_posix())
            raise ConfigurationError(f"source {shown}: the path is not valid UTF-8 (undecodable bytes as \\xNN)")
        if resolved.is_dir():
            self._single_file = False
            self.scope = resolved.as_posix().rstrip("/") + "/"
        elif resolved.is_file():
            self._single_file = True
            self.scope = resolved.as_posix()
        else:
            raise ConfigurationError(f"source {root} is neither a folder nor a regular file")
        self.root = resolved

    async def list(self) -> AsyncIterator[SourceItem]:
        if self._single_file:
            item = await asyncio.to_thread(self._describe, self.root, str(self.root))
            if item is None:
                raise TransientError(f"{self.scope}: source file no longer exists")
            yield item
            return
        pending = [self.root]
        while pending:
            directory = pending.pop()
            files, subdirectories = await asyncio.to_thread(self._scan, directory)
            pending.extend(reversed(subdirectories))
            for path in files:
                item = await asyncio.to_thread(self._describe_entry, path)
                if item is not None:
                    yield item

    async def read(self, item: SourceItem, *, max_bytes: int) -> bytes:
        if not is_text(item.source_id):
            raise BadInputError(
                f"{item.path}: the file name is not valid UTF-8 (shown as \\xNN), so the index cannot store it "
                "faithfully; rename the file"
            )
        if item.size > max_bytes:
            raise _too_large(item.path, item.size, max_bytes)
        return await asyncio.to_thread(self._read, item, max_bytes)

    async def get(self, source_id: str) -> SourceItem | None:
        return await asyncio.to_thread(self._get, source_id)

    async def acl(self, item: SourceItem) -> Acl | None:
        return await asyncio.to_thread(self._read_sidecar, item)

    async def close(self) -> None:
        return None

    # -- walking (worker threads) ------------------------------------------------------------------------------

    def _scan(self, directory: Path) -> tuple[list[Path], list[Path]]:
        """Candidate files and real (non-link) subdirectories of one directory, hidden names left out."""
        try:
            with os.scandir(directory) as iterator:
                entries = sorted(iterator, key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError) as error:
            if directory == self.root:
                raise TransientError(f"{self.scope}: source folder no longer exists") from error
            return [], []  # removed while we walked: its files are gone too
        except OSError as error:
            raise TransientError(f"{directory}: cannot list folder ({error.strerror})") from error
        files: list[Path] = []
        subdirectories: list[Path] = []
        for entry in entries:
            if entry.name.startswith(".") or entry.name.endswith(SIDECAR_SUFFIX):
                continue
            try:
                if entry.is_symlink() or entry.is_file(follow_symlinks=False):
                    files.append(directory / entry.name)
                elif entry.is_dir(follow_symlinks=False):
                    subdirectories.append(directory / entry.name)
            except OSError:
                continue
        return files, subdirectories

    def _describe_entry(self, path: Path) -> SourceItem | None:
        target = self._target(path)
        return None if target is None else self._describe(path, target)

    def _target(self, path: Path) -> str | None:
        """The file to open for ``path`` (itself, or a link's in-root target), or None when it is not a document."""
        try:
            mode = os.lstat(path).st_mode
            if stat.S_ISREG(mode):
                return str(path)
            if not stat.S_ISLNK(mode):
                return None
            target = os.path.realpath(path, strict=True)
            if not self._inside_root(target) or not stat.S_ISREG(os.stat(target).st_mode):
                return None
        except OSError:  # vanished, broken link, link loop
            return None
        return target

    def _inside_root(self, target: str) -> bool:
        try:
            relative = Path(target).relative_to(self.root)
        except ValueError:
            return False
        return not any(part.startswith(".") for part in relative.parts)

    def _describe(self, path: Path, target: str) -> SourceItem | None:
        try:
            with open(target, "rb") as handle:
                info = os.fstat(handle.fileno())
                version = "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()
        except FileNotFoundError:
            return None
        except OSError:
            try:
                info = os.stat(target)
            except OSError:
                return None
            version = f"unreadable:{info.st_size}:{info.st_mtime_ns}"
        posix = path.as_posix()
        return SourceItem(
            source_id=posix,
            path=shown_name(posix),
            size=info.st_size,
            last_modified=datetime.fromtimestamp(info.st_mtime, tz=UTC),
            content_version=version,
            content_type=mimetypes.guess_type(path.name)[0],
        )

    # -- lookups and reads (worker threads) --------------------------------------------------------------------

    def _locate(self, source_id: str) -> tuple[Path, str] | None:
        """The walked path and the file to open for ``source_id``, applying exactly the listing's rules."""
        if self._single_file:
            return (self.root, str(self.root)) if source_id == self.scope and self.root.is_file() else None
        if not source_id.startswith(self.scope):
            return None
        parts = source_id[len(self.scope) :].split("/")
        if any(part in ("", "..") or part.startswith(".") for part in parts) or parts[-1].endswith(SIDECAR_SUFFIX):
            return None
        current = self.root
        for part in parts[:-1]:
            current = current / part
            try:
                if not stat.S_ISDIR(os.lstat(current).st_mode):  # a directory link is never followed
                    return None
            except OSError:
                return None
        path = current / parts[-1]
        target = self._target(path)
        return None if target is None else (path, target)

    def _get(self, source_id: str) -> SourceItem | None:
        located = self._locate(source_id)
        return None if located is None else self._describe(*located)

    def _read(self, item: SourceItem, max_bytes: int) -> bytes:
        located = self._locate(item.source_id)
        if located is None:
            raise _vanished(item.path)
        try:
            with open(located[1], "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > max_bytes:
                    raise _too_large(item.path, size, max_bytes)
                data = handle.read(max_bytes + 1)
        except FileNotFoundError as error:
            raise _vanished(item.path) from error
        except PermissionError as error:
            raise BadInputError(f"{item.path}: cannot read file (permission denied)") from error
        except OSError as error:
            raise TransientError(f"{item.path}: read failed ({error.strerror})") from error
        if len(data) > max_bytes:
            raise _too_large(item.path, None, max_bytes)
        return data

    def _read_sidecar(self, item: SourceItem) -> Acl | None:
        sidecar = item.source_id + SIDECAR_SUFFIX
        try:
            if not stat.S_ISREG(os.lstat(sidecar).st_mode):
                raise BadInputError(f"{item.path}: {sidecar} is not a regular file")
            with open(sidecar, "rb") as handle:
                data = handle.read(MAX_SIDECAR_BYTES + 1)
        except FileNotFoundError:
            return None
        except PermissionError as error:
            raise BadInputError(f"{item.path}: cannot read {sidecar} (permission denied)") from error
        except OSError as error:
            raise TransientError(f"{item.path}: reading {sidecar} failed ({error.strerror})") from error
        if len(data) > MAX_SIDECAR_BYTES:
            raise BadInputError(f"{item.path}: {sidecar} is over {MAX_SIDECAR_BYTES} bytes")
        return from_sidecar(data, path=f"{item.path}: {sidecar}")


def _vanished(path: str) -> BadInputError:
    return BadInputError(f"{path}: file no longer exists (the source changed during the run)")


def _too_large(path: str, size: int | None, max_bytes: int) -> DocumentTooLargeError:
    actual = f"{size} bytes" if size is not None else "it grew while being read"
    return DocumentTooLargeError(f"{path}: over the {max_bytes}-byte document limit ({actual})")
