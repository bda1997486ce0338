"""Command line: ``python -m ingestion ingest|search|status`` (``--json`` on each for one machine-readable object).

Exit codes: 0 nothing failed; 1 some documents failed but the run completed (or it could not finish, e.g. a locked
local index; or a bug); 2 usage or configuration error; 130 Ctrl-C. Under ``--json`` every outcome, errors included,
is one JSON object on stdout (ingestion/cli_output.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import traceback
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import index_schemas
from ingestion import telemetry, wiring
from ingestion.acl import TRIMMING_HELP, principal_from_options
from ingestion.cli_output import (
    JsonAwareParser,
    UsageError,
    configure_logging,
    emit_json,
    internal_error,
    report_error,
    usage_error,
    wants_json,
    whole_number,
)
from ingestion.errors import CONFIGURATION_ERRORS, ConfigurationError, IngestionError
from ingestion.models import DocumentResult, RunResult, SearchHit, SearchMode
from ingestion.settings import Settings
from ingestion.sources.names import shown_name

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MAX_TOP = 1000
CLI_SERVICE_NAME = "ingestion-cli"


def build_parser() -> argparse.ArgumentParser:
    parser = JsonAwareParser(prog="python -m ingestion", description="Turn documents into grounding data.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="ingest a folder, a file or a blob container")
    target = ingest.add_mutually_exclusive_group(required=True)
    target.add_argument("path", nargs="?", type=Path, help="folder (recursive) or single file")
    target.add_argument("--container", help="blob container name (uses AZURE_STORAGE_CONNECTION_STRING or account URL)")
    ingest.add_argument("--prefix", default="", help="only blobs whose name starts with this (with --container)")
    ingest.add_argument("--no-delete", action="store_true", help="keep index documents missing from the source")
    ingest.add_argument("--json", action="store_true", help="print one JSON object with the run's counts")
    ingest.set_defaults(handler=cmd_ingest)

    search = commands.add_parser("search", help="query the index", description=f"Query the index; {TRIMMING_HELP}.")
    search.add_argument("query")
    search.add_argument("--top", type=whole_number, default=5)
    search.add_argument("--mode", choices=[m.value for m in SearchMode], default=SearchMode.HYBRID.value)
    search.add_argument("--source", help="only chunks of this source path")
    add_principal_arguments(search)
    search.add_argument("--json", action="store_true")
    search.set_defaults(handler=cmd_search)

    status = commands.add_parser("status", help="index name, backend and counts")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cmd_status)
    _register_extensions(commands)
    return parser


def add_principal_arguments(parser: argparse.ArgumentParser) -> None:
    """``--user OID`` and ``--groups G1,G2``: trim results to what that user may see (ingestion/acl.py)."""
    parser.add_argument("--user", metavar="OID", help="trim results to what this user object id may see")
    parser.add_argument("--groups", metavar="G1,G2", help="comma-separated group ids of that user (trims results too)")


def _register_extensions(commands: argparse._SubParsersAction) -> None:
    """Commands that live in their own modules (eval, schema) register themselves here when present."""
    for module_name in ("ingestion.evaluation.cli", "ingestion.schema_cli"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        module.register(commands)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every error path reports through cli_output (one JSON object under ``--json``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = wants_json(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return usage_error(exc, as_json=as_json)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    configure_logging(verbose=args.verbose)
    try:
        settings = Settings.from_env()
        telemetry.configure(settings.telemetry, service_name=CLI_SERVICE_NAME, export_logs=True)
        handler: Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]] = args.handler
        return asyncio.run(handler(args, settings))
    except CONFIGURATION_ERRORS as exc:
        return report_error("configuration error", str(exc), EXIT_USAGE, as_json=as_json)
    except IngestionError as exc:
        return report_error("error", str(exc), EXIT_FAILURES, as_json=as_json)
    except KeyboardInterrupt:
        return report_error("interrupted", "stopped by Ctrl-C", EXIT_INTERRUPTED, as_json=as_json)
    except Exception as exc:  # a bug: one line, the traceback only with -v
        if args.verbose:
            traceback.print_exc(file=sys.stderr)
        return report_error("internal error", internal_error(exc), EXIT_FAILURES, as_json=as_json)
    finally:
        telemetry.shutdown()  # export what the run buffered before the process ends


# ---- ingest ---------------------------------------------------------------------------------------------------


async def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    if args.path is not None and not args.path.exists():
        raise ConfigurationError(f"{shown_name(str(args.path))}: no such file or folder")
    if args.path is not None:
        source = wiring.build_folder_source(args.path)
    else:
        source = wiring.build_container_source(settings, args.container, prefix=args.prefix)
    pipeline = wiring.build_pipeline(settings)
    try:
        await pipeline.index.ensure()
        with (
            _Progress(enabled=not args.json and sys.stderr.isatty()) as progress,
            telemetry.span("ingest.run", trigger="cli", scope=source.scope, index=pipeline.index.name) as span,
        ):
            result = await pipeline.run(source, sync_deletes=not args.no_delete, on_result=progress.advance)
            span.set(**{name: value for name, value in result.as_dict().items() if isinstance(value, int)})
            if result.failed:
                span.fail(f"{result.failed} documents failed")
    finally:
        await source.close()
        await pipeline.close()
    if args.json:
        emit_json(result.as_dict())
    else:
        _print_summary(result, index=pipeline.index.name)
    return EXIT_FAILURES if result.failed else EXIT_OK


class _Progress:
    """A rich progress line on a terminal; nothing at all otherwise."""

    def __init__(self, *, enabled: bool) -> None:
        self._bar = None
        if enabled:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True)
            self._task = self._bar.add_task("ingesting", total=None)
        self._done = 0

    def __enter__(self) -> _Progress:
        if self._bar:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar:
            self._bar.stop()

    def advance(self, result: DocumentResult) -> None:
        self._done += 1
        if self._bar:
            self._bar.update(
                self._task, description=f"{self._done} documents - {result.outcome.value}: {result.source_path}"
            )


def _print_summary(result: RunResult, *, index: str) -> None:
    from rich.console import Console
    from rich.table import Table

    counts = result.as_dict()
    table = Table(title=f"ingest into {index}", show_header=False, min_width=34)
    table.add_column("count")
    table.add_column("value", justify="right")
    for name in ("documents", "added", "updated", "unchanged", "deleted", "failed", "chunks", "tokens_embedded"):
        table.add_row(name, str(counts[name]))
    table.add_row("seconds", f"{result.seconds:.1f}")
    console = Console()
    console.print(table)
    for failure in result.failures:
        console.print(f"failed: {failure['error']}", style="red", markup=False, highlight=False)


# ---- search ---------------------------------------------------------------------------------------------------


async def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    if not 1 <= args.top <= MAX_TOP:
        raise ConfigurationError(f"--top must be from 1 to {MAX_TOP}, not {args.top}")
    _require_local_index(settings)
    principal = principal_from_options(args.user, args.groups)
    embedder = wiring.build_embedder(settings)
    index = wiring.build_index(settings, dimensions=embedder.dimensions)
    try:
        mode = SearchMode(args.mode)
        vector = None if mode is SearchMode.TEXT else (await embedder.embed([args.query]))[0]
        hits = await index.search(
            args.query, vector=vector, mode=mode, top=args.top, source_path=args.source, principal=principal
        )
    finally:
        await index.close()
        await embedder.close()
    if args.json:
        emit_json({"query": args.query, "mode": mode.value, "hits": [_hit_dict(h) for h in hits]})
    else:
        _print_hits(args.query, hits)
    return EXIT_OK


def _require_local_index(settings: Settings) -> None:
    """Reading commands never create the local index file: say that nothing has been ingested instead."""
    path = settings.local_index_path
    if settings.index_backend == "local" and not path.exists():
        raise ConfigurationError(
            f"no local index at {path} (LOCAL_INDEX_PATH): nothing has been ingested there yet; "
            "run `python -m ingestion ingest <folder>` first"
        )


def _hit_dict(hit: SearchHit) -> dict[str, object]:
    return {
        "key": hit.key,
        "source": hit.source_path,
        "title": hit.title,
        "pages": [hit.page_start, hit.page_end] if hit.page_start is not None else None,
        "score": hit.score,
        "reranker_score": hit.reranker_score,
        "content": hit.content,
    }


def _print_hits(query: str, hits: list[SearchHit]) -> None:
    print(f'\nsearch: "{query}"')
    if not hits:
        print("  (no results)")
    for rank, hit in enumerate(hits, 1):
        pages = f" (p. {hit.page_start}-{hit.page_end})" if hit.page_start is not None else ""
        snippet = " ".join(hit.content.split())[:220]
        print(f"  {rank}. {hit.source_path}{pages}  score={hit.score:.4f}")
        if hit.title:
            print(f"     § {hit.title}")
        print(f"     {snippet}…")


# ---- status ---------------------------------------------------------------------------------------------------


async def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    _require_local_index(settings)
    embedder = wiring.build_embedder(settings)
    index = wiring.build_index(settings, dimensions=embedder.dimensions)
    try:
        stats = await index.stats()
    finally:
        await index.close()
    status = {
        "index": stats.name,
        "index_backend": settings.index_backend,
        "embedding_backend": settings.embedding_backend,
        "embedding_model": embedder.model_id,
        "dimensions": embedder.dimensions,
        "documents": stats.documents,
        "chunks": stats.chunks,
        "trimmable": index_schemas.tracks_acl(index.version),  # has the ACL fields: --user/--groups work (v3 on)
        "acl_source": settings.acl_source,
        "acl_default": settings.acl_default,
    }
    if settings.index_backend == "local":
        status["local_index_path"] = str(settings.local_index_path)
    if args.json:
        emit_json(status)
    else:
        for key, value in status.items():
            print(f"{key:>18}: {value}")
    return EXIT_OK
