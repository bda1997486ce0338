"""``python -m ingestion eval GOLDEN.jsonl --root DIR [--mode hybrid|text|vector|all] [--top K] [--json]
[--min-recall-at-5 X]``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ingestion import wiring
from ingestion.acl import TRIMMING_HELP, principal_from_options
from ingestion.cli import add_principal_arguments
from ingestion.cli_output import whole_number
from ingestion.errors import ConfigurationError
from ingestion.evaluation.runner import evaluate, load_golden, resolve_roots
from ingestion.models import SearchMode
from ingestion.settings import Settings

COLUMNS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "distinct@5", "ms_p50", "ms_p95")
"""Printed columns; ``ms_p50`` / ``ms_p95`` are the report's ``search_ms_p50`` / ``search_ms_p95``."""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "eval",
        help="retrieval quality of the configured index on a golden set",
        description=f"Retrieval quality of the configured index on a golden set; {TRIMMING_HELP}.",
    )
    parser.add_argument("golden", type=Path, help='JSONL lines {"id", "query", "relevant": [paths relative to --root]}')
    parser.add_argument("--root", required=True, help="folder the relevant paths are relative to (or 'container/')")
    parser.add_argument("--mode", choices=[*(m.value for m in SearchMode), "all"], default=SearchMode.HYBRID.value)
    parser.add_argument("--top", type=whole_number, default=10, help="distinct documents kept per query (default 10)")
    parser.add_argument("--min-recall-at-5", type=float, default=None, help="exit 1 when recall@5 is below this")
    parser.add_argument("--json", action="store_true")
    add_principal_arguments(parser)
    parser.set_defaults(handler=cmd_eval)


async def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    if not args.golden.is_file():
        raise ConfigurationError(f"{args.golden}: no such golden file")
    if args.top < 1:
        raise ConfigurationError("--top must be at least 1")
    principal = principal_from_options(args.user, args.groups)
    queries = load_golden(args.golden)
    modes = list(SearchMode) if args.mode == "all" else [SearchMode(args.mode)]
    embedder = wiring.build_embedder(settings)
    index = wiring.build_index(settings, dimensions=embedder.dimensions)
    roots = resolve_roots(args.root)
    try:
        if (await index.stats()).chunks == 0:
            raise ConfigurationError(f"index {index.name} is empty: ingest the corpus under {args.root} first")
        reports = [
            await evaluate(
                queries, index=index, embedder=embedder, roots=roots, mode=m, top=args.top, principal=principal
            )
            for m in modes
        ]
    finally:
        await index.close()
        await embedder.close()
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else {"modes": reports}))
    else:
        print(f"{'mode':<8}" + "".join(f"{c:>11}" for c in COLUMNS) + "     misses")
        for report in reports:
            print(
                f"{report['mode']:<8}"
                + "".join(f"{report[c if c in report else 'search_' + c]:>11.4f}" for c in COLUMNS)
                + f"{len(report['misses']):>11}"
            )
    gate = args.min_recall_at_5
    if gate is not None and any(report["recall@5"] < gate for report in reports):
        return 1
    return 0
