"""Document-level access control: who may see a document's chunks, how that is stored, and how queries are trimmed.

An ``Acl`` is two sets of ids: ``oids`` (user object ids) and ``groups`` (group ids). A source says what it knows
(``Source.acl``: blob metadata, an ADLS Gen2 POSIX ACL, a local ``NAME.acl.json`` sidecar) or None when it says
nothing, and ``resolve`` applies ``ACL_DEFAULT`` to the latter. **Public** is stored as the sentinel ``*`` in
``groups`` (and nothing else): every trimmed query includes ``*`` among its groups, so one filter expresses
"public, or the user is listed, or one of the user's groups is" on both backends::

    groups/any(g: search.in(g, '*,<group>,<group>', ',')) or oids/any(o: o eq '<oid>')

A document with an empty ``Acl`` (no oids, no groups) is visible to nobody through a trimmed query. An id is a
non-empty string of at most ``MAX_ID_LENGTH`` characters without commas, control characters or surrounding spaces;
a source listing ``*`` (in either list) makes the document public. Without a ``Principal`` a query is untrimmed (the
operator's view).

``Acl.digest`` is what the index records (``acl_hash``) to tell an ACL-only change from "unchanged".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ingestion.errors import BadInputError, ConfigurationError

PUBLIC = "*"
"""The ``groups`` entry that makes a document visible to every trimmed query."""
MAX_ID_LENGTH = 256
MAX_IDS = 1000
"""Ids per list and document (a source listing more is bad input): bounds the size of every chunk."""
MAX_QUERY_GROUPS = 1000
"""Groups one trimmed query may carry (more is a usage error): keeps the ``search.in`` list and the request small."""
OIDS_KEY = "oids"
GROUPS_KEY = "groups"
_SEPARATORS = (",", ";")


class AclDefault(StrEnum):
    """What a document whose source says nothing about access gets (``ACL_DEFAULT``)."""

    PUBLIC = "public"
    PRIVATE = "private"


@dataclass(frozen=True)
class Acl:
    """Sorted, de-duplicated ids; ``Acl.public()`` is ``groups == ("*",)`` and nothing else."""

    oids: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @classmethod
    def of(cls, oids: Iterable[str] = (), groups: Iterable[str] = ()) -> Acl:
        """Normalised: any ``*`` makes it public; ids sorted and de-duplicated."""
        oid_set, group_set = set(oids), set(groups)
        if PUBLIC in oid_set or PUBLIC in group_set:
            return cls.public()
        return cls(tuple(sorted(oid_set)), tuple(sorted(group_set)))

    @classmethod
    def public(cls) -> Acl:
        return cls((), (PUBLIC,))

    @property
    def is_public(self) -> bool:
        return PUBLIC in self.groups

    def digest(self) -> str:
        """A short stable hash of the ACL: equal digests, equal ACLs."""
        blob = json.dumps({"oids": list(self.oids), "groups": list(self.groups)}, separators=(",", ":"))
        return "acl:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def require_acl_fields(tracks_acl: bool, *, index: str, version: int, what: str) -> None:
    """ConfigurationError unless the index's schema has the ACL fields (v3 on): trimming an index without them, or
    updating its ACLs, cannot be done safely, so it is refused rather than answered untrimmed."""
    if not tracks_acl:
        raise ConfigurationError(
            f"{what} needs ACL fields, but index {index} is schema v{version}: migrate it first "
            "(python -m ingestion schema migrate ... --to 3)"
        )


def resolve(acl: Acl | None, default: AclDefault) -> Acl:
    """The ACL the index stores: the source's, else public or private (empty) per ``default``."""
    if acl is not None:
        return acl
    return Acl.public() if default is AclDefault.PUBLIC else Acl()


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user object id and/or group ids. ``visible`` is the trimming rule both backends apply."""

    oid: str | None = None
    groups: tuple[str, ...] = ()

    @classmethod
    def of(cls, oid: str | None, groups: Iterable[str]) -> Principal:
        """Validated (ConfigurationError: a usage error, naming the bad value)."""
        listed = tuple(dict.fromkeys(groups))
        if len(listed) > MAX_QUERY_GROUPS:
            raise ConfigurationError(f"--groups: {len(listed)} groups; at most {MAX_QUERY_GROUPS} per query")
        for value, what in [(oid, "--user"), *((g, "--groups") for g in listed)]:
            if value is not None and (problem := id_problem(value)):
                raise ConfigurationError(f"{what} {value!r}: {problem}")
        return cls(oid, listed)

    def visible(self, oids: Iterable[str], groups: Iterable[str]) -> bool:
        """True when the chunk is public, lists this user's oid, or lists one of this user's groups."""
        mine = {PUBLIC, *self.groups}
        return any(group in mine for group in groups) or (self.oid is not None and self.oid in set(oids))

    def odata_filter(self, *, oids_field: str = OIDS_KEY, groups_field: str = GROUPS_KEY) -> str:
        """The Azure AI Search filter for this principal (every value escaped as an OData literal)."""
        groups = ",".join((PUBLIC, *self.groups))
        clause = f"{groups_field}/any(g: search.in(g, {_odata(groups)}, ','))"
        if self.oid is not None:
            clause += f" or {oids_field}/any(o: o eq {_odata(self.oid)})"
        return f"({clause})"


TRIMMING_HELP = (
    "with --user and/or --groups, results are trimmed to what that user may see (public documents, documents "
    "listing the user's object id or one of the groups); without them you get the operator's view: every document"
)


def principal_from_options(user: str | None, groups: str | None) -> Principal | None:
    """The ``--user OID`` / ``--groups G1,G2`` of a command as a Principal; None when neither was given."""
    if user is None and groups is None:
        return None
    listed = [group.strip() for group in (groups or "").split(",") if group.strip()]
    return Principal.of(user.strip() if user is not None else None, listed)


def parse_ids(value: str, *, what: str) -> tuple[str, ...]:
    """``'a, b;c'`` -> ``('a', 'b', 'c')``: comma- (or semicolon-) separated, blanks ignored; BadInputError (naming
    ``what``) for an id that breaks the rules of the module docstring or more than MAX_IDS ids."""
    for separator in _SEPARATORS[1:]:
        value = value.replace(separator, _SEPARATORS[0])
    ids = [part.strip() for part in value.split(_SEPARATORS[0]) if part.strip()]
    return check_ids(ids, what=what)


def check_ids(ids: Iterable[object], *, what: str) -> tuple[str, ...]:
    """``ids`` validated (BadInputError naming ``what``), in their order, de-duplicated."""
    checked: dict[str, None] = {}
    for value in ids:
        if not isinstance(value, str):
            raise BadInputError(f"{what}: ids must be strings, got {type(value).__name__}")
        if problem := id_problem(value):
            raise BadInputError(f"{what}: {value[:MAX_ID_LENGTH]!r} {problem}")
        checked[value] = None
    if len(checked) > MAX_IDS:
        raise BadInputError(f"{what}: {len(checked)} ids; at most {MAX_IDS}")
    return tuple(checked)


def id_problem(value: str) -> str | None:
    """Why ``value`` cannot be an ACL id, or None."""
    if not value or value != value.strip():
        return "is empty or has surrounding spaces"
    if len(value) > MAX_ID_LENGTH:
        return f"is longer than {MAX_ID_LENGTH} characters"
    if "," in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "contains a comma or a control character"
    return None


def from_metadata(metadata: Mapping[str, str], *, path: str) -> Acl | None:
    """The ACL in blob metadata ``oids`` / ``groups`` (keys case-insensitive); None when neither key is present."""
    lowered = {str(key).lower(): str(value) for key, value in metadata.items()}
    if OIDS_KEY not in lowered and GROUPS_KEY not in lowered:
        return None
    oids = parse_ids(lowered.get(OIDS_KEY, ""), what=f"{path}: metadata {OIDS_KEY}")
    groups = parse_ids(lowered.get(GROUPS_KEY, ""), what=f"{path}: metadata {GROUPS_KEY}")
    return Acl.of(oids, groups)


def from_sidecar(data: bytes, *, path: str) -> Acl:
    """The ACL in a sidecar file's bytes: ``{"oids": [...], "groups": [...]}`` (both optional, nothing else)."""
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise BadInputError(f"{path}: not a JSON ACL ({type(error).__name__})") from None
    if not isinstance(body, dict) or set(body) - {OIDS_KEY, GROUPS_KEY}:
        raise BadInputError(f'{path}: an ACL is a JSON object {{"oids": [...], "groups": [...]}} and nothing else')
    lists = {key: body.get(key, []) for key in (OIDS_KEY, GROUPS_KEY)}
    if not all(isinstance(value, list) for value in lists.values()):
        raise BadInputError(f"{path}: {OIDS_KEY} and {GROUPS_KEY} must be lists of strings")
    return Acl.of(
        check_ids(lists[OIDS_KEY], what=f"{path}: {OIDS_KEY}"),
        check_ids(lists[GROUPS_KEY], what=f"{path}: {GROUPS_KEY}"),
    )


def _odata(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
