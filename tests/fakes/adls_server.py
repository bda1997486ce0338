"""A fake ADLS Gen2 ``dfs`` endpoint: just enough of the Data Lake Storage REST API for ``get_access_control``.

Azurite has no hierarchical namespace, so ACLs are tested here, through the real azure-storage-file-datalake SDK.
Served path-style (like Azurite): ``http://127.0.0.1:<port>/<account>/<filesystem>/<path>``. What it checks and
answers, as the service does (Path - Get Properties, api 2021+):

- ``HEAD /<account>/<filesystem>/<path>?action=getAccessControl[&upn=true|false]`` -> 200 with ``x-ms-owner``,
  ``x-ms-group``, ``x-ms-permissions`` (``rwxr-x---+``: a ``+`` when the ACL has named entries) and ``x-ms-acl``
  (``user::rwx,user:<oid>:r--,group::r-x,mask::r-x,other::---``: the file's access ACL; a directory's default
  entries follow as ``default:user::...``). With ``upn=true`` the ids are given as registered UPNs when known.
- every request needs ``x-ms-version`` and ``x-ms-date`` headers and ``Authorization: SharedKey <account>:<base64>``
  for the configured account (else 403 ``AuthenticationFailed``; a wrong account is 403 too);
- an unknown file system is 404 ``FilesystemNotFound``, an unknown path 404 ``PathNotFound`` (a HEAD answer carries
  its error code in ``x-ms-error-code`` only, no body);
- ``fail_requests(n, status=503, retry_after=...)`` answers the next ``n`` requests with that status.

Files are registered with ``set_acl(filesystem, path, acl, owner=..., group=...)``; ``requests`` records
``(method, path, query)`` of every request.
"""

from __future__ import annotations

import re
import threading
from email.utils import formatdate

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

_AUTH = re.compile(r"^SharedKey ([a-z0-9]+):[A-Za-z0-9+/=]+$")
_ENTRY = re.compile(r"^(default:)?(user|group|mask|other):[^:,]*:[r-][w-][x-]$")


class FakeAdlsServer(LoopbackServer):
    thread_name = "fake-adls"

    def __init__(self, account: str = "devstoreaccount1", *, upns: dict[str, str] | None = None) -> None:
        self.account = account
        self.upns = dict(upns or {})
        self.files: dict[tuple[str, str], dict[str, str]] = {}
        self.filesystems: set[str] = set()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._faults: list[tuple[int, float | None]] = []
        self._lock = threading.Lock()

    @property
    def account_url(self) -> str:
        return f"{self.url}/{self.account}"

    def set_acl(
        self, filesystem: str, path: str, acl: str, *, owner: str = "$superuser", group: str = "$superuser"
    ) -> None:
        """Register (or replace) the access ACL of ``path``; ValueError for a malformed ACL (the service's 400)."""
        if not all(_ENTRY.match(entry) for entry in acl.split(",")):
            raise ValueError(f"malformed ACL {acl!r}")
        with self._lock:
            self.filesystems.add(filesystem)
            self.files[(filesystem, path)] = {"acl": acl, "owner": owner, "group": group}

    def fail_requests(self, count: int, *, status: int = 503, retry_after: float | None = None) -> None:
        with self._lock:
            self._faults.extend([(status, retry_after)] * count)

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self.requests.append((request.method, request.path, dict(request.query)))
            fault = self._faults.pop(0) if self._faults else None
        headers = {"x-ms-request-id": "fake", "x-ms-version": request.headers.get("x-ms-version", ""),
                   "Date": formatdate(usegmt=True)}  # fmt: skip
        if fault is not None:
            status, retry_after = fault
            extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return _error(status, "ServerBusy" if status == 503 else "InjectedFault", {**headers, **extra}, request)
        match = _AUTH.match(request.headers.get("Authorization", ""))
        if not request.headers.get("x-ms-version") or not request.headers.get("x-ms-date") or match is None:
            return _error(403, "AuthenticationFailed", headers, request)
        if match.group(1) != self.account:
            return _error(403, "AuthenticationFailed", headers, request)
        parts = request.path.lstrip("/").split("/", 2)
        if len(parts) < 3 or parts[0] != self.account or not parts[2]:
            return _error(400, "InvalidUri", headers, request)
        if request.method != "HEAD" or request.query.get("action") != "getAccessControl":
            return _error(400, "UnsupportedHttpVerb", headers, request)
        _, filesystem, path = parts
        with self._lock:
            if filesystem not in self.filesystems:
                return _error(404, "FilesystemNotFound", headers, request)
            found = self.files.get((filesystem, path))
        if found is None:
            return _error(404, "PathNotFound", headers, request)
        upn = request.query.get("upn", "false").lower() == "true"
        acl = found["acl"]
        if upn:
            acl = ",".join(self._upn_entry(entry) for entry in acl.split(","))
        named = any(entry.split(":")[1] for entry in acl.split(",") if not entry.startswith("default:"))
        permissions = _permissions(found["acl"]) + ("+" if named else "")
        return web.Response(
            status=200,
            headers={
                **headers,
                "x-ms-owner": self.upns.get(found["owner"], found["owner"]) if upn else found["owner"],
                "x-ms-group": found["group"],
                "x-ms-permissions": permissions,
                "x-ms-acl": acl,
            },
        )

    def _upn_entry(self, entry: str) -> str:
        fields = entry.split(":")
        fields[-2] = self.upns.get(fields[-2], fields[-2])
        return ":".join(fields)


def _permissions(acl: str) -> str:
    base = {}
    for entry in acl.split(","):
        kind, qualifier, perms = entry.split(":")[-3:]
        if not entry.startswith("default:") and not qualifier and kind in ("user", "group", "other"):
            base[kind] = perms
    return base.get("user", "---") + base.get("group", "---") + base.get("other", "---")


def _error(status: int, code: str, headers: dict[str, str], request: web.Request) -> web.Response:
    headers = {**headers, "x-ms-error-code": code}
    if request.method == "HEAD":
        return web.Response(status=status, headers=headers)
    body = {"error": {"code": code, "message": f"{code} (fake ADLS)"}}
    return web.json_response(body, status=status, headers=headers)
