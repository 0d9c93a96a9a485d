"""The shape of the code (docs/architecture.md): import rules and module sizes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    """pyproject.toml's [tool.importlinter] contracts: survey imports neither web nor
    schema, the areas of survey import only downwards, and nothing imports in a cycle."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


PACKAGES = ("survey", "schema", "web")
MAX_MODULE_LINES = 500
SQL_IN_HTTP_LAYER = re.compile(r"\bselect\(|db\.session\.(?!rollback\(\))")


def _modules(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


def test_no_module_holds_more_than_one_idea():
    """A module over 500 lines holds two ideas: split it (docs/architecture.md)."""
    long = {
        str(path.relative_to(ROOT)): lines
        for path in _modules(*PACKAGES)
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_http_layers_hold_no_sql():
    """web/ and schema/ call survey/ services; only a rollback on an error path."""
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in _modules("web", "schema")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SQL_IN_HTTP_LAYER.search(line)
    ]
    assert found == []
