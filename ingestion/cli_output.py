"""How the command line reports: JSON that always prints, errors as one line (or one JSON object), tracebacks on -v.

- ``emit_json`` prints one JSON object on stdout. A value that the stream cannot encode (a lone surrogate from a file
  name that is not UTF-8, any non-ASCII character on an ASCII stream) falls back to ASCII escapes, so ``--json``
  output is always printed and always valid JSON.
- ``report_error`` is every error path of every command: under ``--json`` one object ``{"error", "exit_code"}`` on
  stdout, otherwise ``<kind>: <one line>`` on stderr.
- ``JsonAwareParser`` turns argparse's usage errors into ``UsageError`` so that they, too, are reported that way.
- ``configure_logging`` keeps tracebacks out of the log unless ``-v``: a traceback is for a bug, and is shown on demand.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from typing import NoReturn


class UsageError(Exception):
    """argparse refused the command line (exit code 2)."""

    def __init__(self, message: str, parser: argparse.ArgumentParser) -> None:
        super().__init__(message)
        self.parser = parser


class JsonAwareParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors raise UsageError instead of printing and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self)


def whole_number(text: str) -> int:
    """argparse ``type=`` for counts and versions: ASCII digits only (``int()`` also takes ``٣`` and ``1_0``)."""
    if not re.fullmatch(r"[+-]?[0-9]{1,12}", text.strip()):
        raise argparse.ArgumentTypeError(f"not a whole number: {text[:40]!r}")
    return int(text)


def emit_json(value: object) -> None:
    """Print ``value`` as one JSON line on stdout, whatever stdout's encoding."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    try:
        sys.stdout.write(text + "\n")
    except UnicodeEncodeError:
        sys.stdout.write(json.dumps(value, ensure_ascii=True, default=str) + "\n")
    sys.stdout.flush()


def emit_line(text: str, *, stream: object = None) -> None:
    """Print one line of text, escaping what the stream cannot encode instead of failing."""
    out = stream if stream is not None else sys.stdout
    try:
        out.write(text + "\n")  # type: ignore[attr-defined]
    except UnicodeEncodeError:
        encoding = getattr(out, "encoding", None) or "ascii"
        out.write(text.encode(encoding, "backslashreplace").decode(encoding) + "\n")  # type: ignore[attr-defined]


def report_error(kind: str, message: str, exit_code: int, *, as_json: bool) -> int:
    """Report one error as the command's output and return ``exit_code``."""
    line = " ".join(f"{kind}: {message}".split())
    if as_json:
        emit_json({"error": line, "exit_code": exit_code})
    else:
        emit_line(line, stream=sys.stderr)
    return exit_code


def usage_error(error: UsageError, *, as_json: bool) -> int:
    """argparse's own output (usage line + message) on stderr, or the JSON object under ``--json``."""
    if not as_json:
        error.parser.print_usage(sys.stderr)
    return report_error(f"{error.parser.prog}: error", str(error), 2, as_json=as_json)


def wants_json(argv: list[str]) -> bool:
    """``--json`` anywhere before a ``--`` (an option's value that happens to read ``--json`` counts too: harmless)."""
    return "--json" in (argv[: argv.index("--")] if "--" in argv else argv)


def internal_error(error: BaseException) -> str:
    """A bug's one line: its type only (its message may quote anything, a URL with a SAS token included)."""
    return f"{type(error).__name__} (a bug: run with -v for the traceback)"


class _NoTraceback(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.exc_text = ""
        saved, record.exc_info = record.exc_info, None
        try:
            return super().format(record)
        finally:
            record.exc_info = saved


def configure_logging(*, verbose: bool) -> None:
    """As ``logging.basicConfig`` (nothing if the root logger already has handlers), without tracebacks unless -v."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    fmt = "%(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt) if verbose else _NoTraceback(fmt))
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.ERROR)
