"""``python -m ingestion schema show|diff|apply|migrate|rollback|status|gc`` (``--json`` on each).

Exit codes as for the other commands: 0 done; 1 a migration failed verification or found the alias moved by someone
else (alias untouched either way) or ``status`` found drift; 2 usage or configuration error, including ``apply``
refusing a change that needs ``migrate``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index_schemas import LATEST, VERSIONS, field_specs, physical_name
from index_schemas.diff import SchemaDiff, diff_indexes
from ingestion import wiring
from ingestion.cli_output import emit_json, whole_number
from ingestion.deployment import lifecycle, migrate
from ingestion.deployment.estimate import estimate_migration, price_per_million
from ingestion.deployment.target import find_live
from ingestion.errors import ConfigurationError
from ingestion.indexing.admin import IndexAdmin
from ingestion.settings import Settings

EXIT_OK, EXIT_FAILURES = 0, 1
LIVE = "live"


def register(commands: argparse._SubParsersAction) -> None:
    schema = commands.add_parser("schema", help="index schema versions: show, diff, apply, migrate, rollback, status")
    sub = schema.add_subparsers(dest="schema_command", required=True)
    show = sub.add_parser("show", help="a version's index definition")
    show.add_argument("version", nargs="?", type=whole_number, default=LATEST)
    diff = sub.add_parser("diff", help="changes between two versions (numbers, or 'live'), each in place or rebuild")
    diff.add_argument("old")
    diff.add_argument("new")
    apply = sub.add_parser("apply", help="create the version if nothing is live, else upgrade the live index in place")
    apply.add_argument("--to", type=whole_number, help=f"schema version (default {LATEST}, or the live one if newer)")
    mig = sub.add_parser("migrate", help="rebuild into a new index by a full reindex, verify, swap the alias")
    target = mig.add_mutually_exclusive_group()
    target.add_argument("path", nargs="?", type=Path, help="folder or file to reindex from")
    target.add_argument("--container", help="blob container to reindex from")
    mig.add_argument("--prefix", default="", help="only blobs whose name starts with this (with --container)")
    mig.add_argument("--to", type=whole_number, help=f"schema version (default {LATEST}, or the live one if newer)")
    mig.add_argument("--dry-run", action="store_true", help="estimate tokens and cost; change nothing")
    mig.add_argument(
        "--max-failures", type=whole_number, default=None,
        help="failed documents allowed before the swap (default SCHEMA_MIGRATION_MAX_FAILURES, 0)",
    )  # fmt: skip
    mig.add_argument("--allow-outside-scope", action="store_true", help="swap although live documents are lost")
    mig.add_argument("--force", action="store_true", help="rebuild even when the live index is up to date")
    mig.add_argument("--abort", action="store_true", help="delete unfinished migrations instead")
    rollback = sub.add_parser("rollback", help="point the alias back at the previous index")
    rollback.add_argument("--to", help="index name or version (default: the most recently retired)")
    rollback.add_argument("--force", action="store_true", help="even if its vector dimensions differ")
    sub.add_parser("status", help="live version, counts, drift, and the other indexes with their retention")
    sub.add_parser("gc", help="delete retired indexes whose retention has passed")
    for parser in sub.choices.values():
        parser.add_argument("--json", action="store_true", help="print one JSON object")
    schema.set_defaults(handler=run)


@dataclass(frozen=True)
class _Context:
    settings: Settings
    config: lifecycle.SchemaConfig
    embedder: Any
    index_admin: IndexAdmin | None

    @property
    def admin(self) -> IndexAdmin:
        if self.index_admin is None:  # pragma: no cover - only `show` runs without one, and it needs none
            raise ConfigurationError("this command needs the index admin")
        return self.index_admin


async def run(args: argparse.Namespace, settings: Settings) -> int:
    handler = {
        "show": _show,
        "diff": _diff,
        "apply": _apply,
        "migrate": _migrate,
        "rollback": _rollback,
        "status": _status,
        "gc": _gc,
    }[args.schema_command]
    embedder = wiring.build_embedder(settings)
    config = wiring.build_schema_config(settings, dimensions=embedder.dimensions)
    admin = None if args.schema_command == "show" else wiring.build_admin(settings)
    try:
        return await handler(args, _Context(settings, config, embedder, admin))
    finally:
        if admin is not None:
            await admin.close()
        await embedder.close()


# ---- show / diff ----------------------------------------------------------------------------------------------


async def _show(args: argparse.Namespace, ctx: _Context) -> int:
    definition = ctx.config.definition(args.version, physical_name(ctx.settings.azure_search_index, args.version))
    if args.json:
        _json(definition.to_wire())
        return EXIT_OK
    _out(f"schema v{args.version}: {definition.name}" + (" (latest)" if args.version == LATEST else ""))
    for spec in field_specs(definition):
        flags = [f for f in ("key", "searchable", "filterable", "sortable", "facetable") if getattr(spec, f)]
        flags += [] if spec.retrievable else ["hidden"]
        flags += [f"{spec.dimensions} dims"] if spec.dimensions else []
        kind = f"Collection({spec.type})" if spec.collection else spec.type
        _out(f"  {spec.name:<16} {kind:<26} {' '.join(flags)}")
    profiles = [p.name for p in definition.scoring_profiles or []]
    _out(f"  scoring profiles: {', '.join(profiles) or '(none)'}")
    return EXIT_OK


async def _diff(args: argparse.Namespace, ctx: _Context) -> int:
    old = await _definition(args.old, ctx)
    new = await _definition(args.new, ctx)
    changes = diff_indexes(old, new)
    if args.json:
        _json({"old": args.old, "new": args.new, **changes.as_dict()})
    else:
        _print_changes(f"{args.old} -> {args.new}", changes)
    return EXIT_OK


async def _definition(which: str, ctx: _Context) -> Any:
    admin = ctx.admin
    if which == LIVE:
        live = await find_live(admin)
        if live is None:
            raise ConfigurationError(f"alias {admin.alias}: no live index yet (run `schema apply`)")
        return await admin.get_definition(live.name)
    if not (which.isascii() and which.isdigit() and len(which) < 7) or int(which) not in VERSIONS:
        raise ConfigurationError(f"{which!r} is not 'live' or a schema version ({', '.join(map(str, VERSIONS))})")
    return ctx.config.definition(int(which), physical_name(admin.alias, int(which)))


# ---- apply / rollback / status / gc ---------------------------------------------------------------------------


async def _apply(args: argparse.Namespace, ctx: _Context) -> int:
    result = await lifecycle.apply(ctx.admin, ctx.config, version=args.to)
    if args.json:
        _json(result.as_dict())
        return EXIT_OK
    if result.created:
        _out(f"created {result.index} (schema v{result.version}); alias {result.alias} -> {result.index}")
    else:
        _print_changes(f"{result.index}: v{result.version_before} -> v{result.version}", result.changes)
        if result.changes.in_place and any(c.what == "added" for c in result.changes.changes):
            _out("  documents get the new fields when next written: run `ingest` (vectors are reused, 0 tokens)")
        if result.alias_set:
            _out(f"alias {result.alias} -> {result.index}")
    _print_deleted(result.deleted)
    return EXIT_OK


async def _rollback(args: argparse.Namespace, ctx: _Context) -> int:
    result = await lifecycle.rollback(ctx.admin, ctx.config, to=args.to, force=args.force)
    if args.json:
        _json(result)
    else:
        _out(f"alias {result['alias']}: {result['from']} -> {result['to']} (schema v{result['version']})")
    return EXIT_OK


async def _status(args: argparse.Namespace, ctx: _Context) -> int:
    result = await lifecycle.status(ctx.admin, ctx.config)
    code = EXIT_FAILURES if result.drift else EXIT_OK
    if args.json:
        _json(result.as_dict())
        return code
    live = result.live
    target = result.alias_target or f"(no alias yet; readers use {live.name if live else 'nothing'})"
    _out(f"alias {result.alias} -> {target}")
    if live is not None:
        _out(
            f"live: {live.name}, schema v{live.version}, {live.dimensions} dimensions, "
            f"{result.documents} documents, {result.chunks} chunks"
        )
        _print_changes("drift", result.drift)
        if result.upgrade is not None:
            _print_changes(f"upgrade to v{result.latest}", result.upgrade)
    for index, due in result.others:
        when = f", deleted after {due.isoformat(timespec='seconds')}" if due else ""
        _out(f"  {index.name}: schema v{index.version}, {index.state}{when}")
    return code


async def _gc(args: argparse.Namespace, ctx: _Context) -> int:
    deleted = await lifecycle.collect_garbage(ctx.admin, ctx.config)
    if args.json:
        _json({"deleted": deleted})
    elif deleted:
        _print_deleted(deleted)
    else:
        _out("nothing to delete")
    return EXIT_OK


# ---- migrate --------------------------------------------------------------------------------------------------


async def _migrate(args: argparse.Namespace, ctx: _Context) -> int:
    if args.abort:
        deleted = await migrate.abort(ctx.admin)
        if args.json:
            _json({"deleted": deleted})
        else:
            _out(f"deleted {', '.join(deleted)}" if deleted else "no unfinished migration")
        return EXIT_OK
    if args.max_failures is None:
        args.max_failures = ctx.settings.schema_migration_max_failures
    if args.max_failures < 0:
        raise ConfigurationError("--max-failures must be >= 0")
    plan = await migrate.plan_migration(ctx.admin, ctx.config, version=args.to, force=args.force)
    if plan.up_to_date:
        if args.json:
            _json({"plan": plan.as_dict()})
        else:
            _out(f"{plan.target} is up to date: nothing to migrate")
        return EXIT_OK
    source = _source(args, ctx.settings)
    try:
        if args.dry_run:
            return await _dry_run(args, ctx, plan, source)
        result = await migrate.migrate(
            ctx.admin,
            ctx.config,
            plan,
            source=source,
            pipeline_for=lambda index, version, live: wiring.build_pipeline(
                ctx.settings, index=index, embedder=ctx.embedder, schema_version=version, reuse_from=live
            ),
            max_failures=args.max_failures,
            allow_outside_scope=args.allow_outside_scope,
        )
    finally:
        await source.close()
    if args.json:
        _json(result.as_dict())
    else:
        _print_migration(result)
    return EXIT_OK if result.swapped else EXIT_FAILURES


def _source(args: argparse.Namespace, settings: Settings) -> Any:
    if args.path is not None:
        if not args.path.exists():
            raise ConfigurationError(f"{args.path}: no such file or folder")
        return wiring.build_folder_source(args.path)
    if args.container is None:
        raise ConfigurationError("schema migrate needs the source to reindex: a PATH or --container")
    return wiring.build_container_source(settings, args.container, prefix=args.prefix)


async def _dry_run(args: argparse.Namespace, ctx: _Context, plan: migrate.MigrationPlan, source: Any) -> int:
    embedder = ctx.embedder
    live = ctx.admin.open_index(plan.live) if plan.live is not None else None
    pipeline = wiring.build_pipeline(ctx.settings, embedder=embedder, schema_version=plan.version)
    try:
        estimate = await estimate_migration(
            pipeline,
            source,
            live=live,
            live_version=plan.live.version if plan.live else None,
            live_dimensions=plan.live.dimensions if plan.live else None,
            price=price_per_million(embedder.model_id, ctx.settings.embedding_price_per_million),
        )
    finally:
        await pipeline.index.close()
        if live is not None:
            await live.close()
    if args.json:
        _json({"plan": plan.as_dict(), "estimate": estimate.as_dict()})
        return EXIT_OK
    _out(f"dry run: {plan.live.name if plan.live else '(nothing live)'} -> {plan.target} (schema v{plan.version})")
    if plan.changes is not None:
        _print_changes("changes", plan.changes)
    if estimate.reembed_all:
        _out(
            f"  the embedding space changes ({embedder.model_id}, {embedder.dimensions} dimensions): "
            "every chunk is embedded again"
        )
    cost = "unknown (set EMBEDDING_PRICE_PER_MILLION)" if estimate.cost is None else f"${estimate.cost:.4f}"
    _out(
        f"  {estimate.documents} documents, {estimate.chunks} chunks ({estimate.reused_chunks} vectors reused), "
        f"{estimate.tokens} tokens to embed, cost {cost}"
    )
    return EXIT_OK


# ---- output ---------------------------------------------------------------------------------------------------


def _print_migration(result: migrate.MigrationResult) -> None:
    plan, run, check = result.plan, result.run, result.verification
    _out(
        f"built {plan.target} (schema v{plan.version}{', resumed' if plan.resume else ''}): "
        f"{run.documents} documents, {run.failed} failed, {run.tokens_embedded} tokens embedded, {run.seconds:.1f} s"
    )
    for failure in run.failures:
        _out(f"  failed: {failure['error']}")
    if result.swapped:
        previous = plan.live.name if plan.live else "nothing"
        _out(
            f"verified {check.documents} documents, {check.chunks} chunks; alias {plan.alias} -> {plan.target} "
            f"(was {previous}; `schema rollback` undoes it)"
        )
    elif result.conflict is not None:
        _out(f"NOT swapped: {result.conflict}; {plan.target} kept building to resume or inspect")
    else:
        _out(f"NOT swapped: alias {plan.alias} unchanged; {plan.target} kept to resume or inspect")
        for problem in check.problems:
            _out(f"  {problem}")
    _print_deleted(result.deleted)


def _print_changes(title: str, changes: SchemaDiff) -> None:
    if not changes:
        _out(f"{title}: no changes")
        return
    _out(f"{title}: {changes.kind} ({len(changes.changes)} changes)")
    for change in changes.changes:
        _out(f"  {change.describe()}")


def _print_deleted(deleted: list[str]) -> None:
    for name in deleted:
        _out(f"deleted {name} (retention passed)")


def _json(value: object) -> None:
    emit_json(value)  # the command's output, printable on any stdout encoding


def _out(line: str) -> None:
    print(line)  # noqa: T201 - the command's output
