"""The package boundaries of docs/architecture.md, checked on the source with ``ast`` (lazy imports included).

Each rule names who may import what; a new module that breaks one fails here with the file and the import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Stages in the order data flows; a stage never imports a later one (nor the layers that assemble them).
STAGES = ["ingestion.sources", "ingestion.cracking", "ingestion.chunking", "ingestion.embedding", "ingestion.indexing"]
ASSEMBLY = [
    "ingestion.pipeline",
    "ingestion.wiring",
    "ingestion.cli",
    "ingestion.deployment",
    "ingestion.runs",
    "ingestion.functions",
    "ingestion.schema",
]
# The only modules that may import an Azure SDK, and the only ones that may import azure.functions.
AZURE_ALLOWED = (
    "ingestion.cloud",
    "ingestion.indexing.azure",
    "ingestion.embedding.azure_openai",
    "ingestion.cracking.docintel",
    "ingestion.sources.blob",
    "ingestion.sources.adls_acl",
    "ingestion.functions",
    "ingestion.runs.queue",
    "ingestion.runs.store",
    "ingestion.telemetry.setup",
    "function_app",
)
FUNCTIONS_ALLOWED = ("ingestion.functions", "function_app")
# Backends are chosen in one place: only these may import a backend package.
BACKEND_CHOOSERS = ("ingestion.wiring", "ingestion.deployment.target")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> list[Path]:
    found = [*sorted((ROOT / "ingestion").rglob("*.py")), *sorted((ROOT / "index_schemas").rglob("*.py"))]
    return [*found, ROOT / "function_app.py"]


def imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def within(name: str, packages: tuple[str, ...] | list[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def violations(rule: str) -> list[str]:
    found = []
    for path in sources():
        importer = module_name(path)
        for imported in set(imports(path)):
            if broken(rule, importer, imported):
                found.append(f"{path.relative_to(ROOT)} imports {imported}")
    return sorted(found)


def broken(rule: str, importer: str, imported: str) -> bool:
    if rule == "index_schemas is pure":
        return within(importer, ["index_schemas"]) and within(imported, ["ingestion", "azure"])
    if rule == "azure SDKs only in adapters":
        return within(imported, ["azure"]) and not within(importer, AZURE_ALLOWED)
    if rule == "azure.functions only in functions/":
        return within(imported, ["azure.functions"]) and not within(importer, FUNCTIONS_ALLOWED)
    if rule == "stages do not import later stages":
        for position, stage in enumerate(STAGES):
            if within(importer, [stage]):
                return within(imported, STAGES[position + 1 :] + ASSEMBLY)
        return False
    if rule == "backends are chosen in wiring":
        backends = ["ingestion.indexing.local", "ingestion.indexing.azure"]
        return within(imported, backends) and not within(importer, [*BACKEND_CHOOSERS, *backends])
    if rule == "runs know nothing of deployment":  # a generic fan-out; deployment supplies builds (migration runs)
        return within(importer, ["ingestion.runs"]) and within(imported, ["ingestion.deployment"])
    if rule == "one alias resolver":  # the backends' alias reads are primitives only deployment.target calls
        return imported.endswith(".alias_target") and importer != "ingestion.deployment.target"
    raise AssertionError(rule)


@pytest.mark.parametrize(
    "rule",
    [
        "index_schemas is pure",
        "azure SDKs only in adapters",
        "azure.functions only in functions/",
        "stages do not import later stages",
        "backends are chosen in wiring",
        "one alias resolver",
        "runs know nothing of deployment",
    ],
)
def test_import_rule(rule: str) -> None:
    assert violations(rule) == []


def test_the_checker_sees_lazy_and_from_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from azure.identity import DefaultAzureCredential\nimport ingestion.wiring\n")
    assert set(imports(probe)) >= {"azure.identity", "azure.identity.DefaultAzureCredential", "ingestion.wiring"}
    assert broken("azure SDKs only in adapters", "ingestion.chunking", "azure.identity")
    assert broken("stages do not import later stages", "ingestion.cracking.pdf", "ingestion.embedding.base")
    assert not broken("stages do not import later stages", "ingestion.embedding.local", "ingestion.chunking")
