"""Layers point down: tracker (core) < checks < assets < pipelines; the dashboard imports only tracker and checks.

Every import is read from the source with ``ast``: at module level and inside
functions, ``import x`` and ``from x import y``, absolute and relative, and
``importlib.import_module("x")`` with a literal name. An import that points up
fails here, naming the module, the line and the import, before it can make a
cycle. The dashboard must also never import Dagster or Great Expectations.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("tracker", "checks", "assets", "pipelines")  # each imports only itself and the layers before it
PACKAGES = (*LAYERS, "dashboard")
ALLOWED = {layer: set(LAYERS[: i + 1]) for i, layer in enumerate(LAYERS)}
ALLOWED["dashboard"] = {"tracker", "checks", "dashboard"}
NEVER_IN_DASHBOARD = ("dagster", "great_expectations")  # and no dagster_* package either


@dataclass(frozen=True)
class Import:
    line: int
    target: str  # the absolute module name, relative imports resolved

    @property
    def top(self) -> str:
        return self.target.split(".")[0]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of ``from <level dots><name> import ...`` written in ``module``."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 > len(package):
        return "." * level + (name or "")  # above the top package: left relative, and reported
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, *([name] if name else [])])


def imports_in(source: str, module: str, is_package: bool = False) -> list[Import]:
    """Every import anywhere in ``source`` (the module ``module``), with its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_package, node.level, node.module) if node.level else node.module
            if node.level and not node.module:  # `from . import x`: x is a module of that package
                joined = "" if not target or target.endswith(".") else "."
                found += [Import(node.lineno, f"{target}{joined}{alias.name}") for alias in node.names]
            else:
                found.append(Import(node.lineno, target))
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and (getattr(node.func, "attr", None) == "import_module"
                   or getattr(node.func, "id", None) in ("import_module", "__import__"))):
            found.append(Import(node.lineno, node.args[0].value))
    return sorted(found, key=lambda i: (i.line, i.target))


def problems_in(source: str, module: str, is_package: bool = False, where: str = "") -> list[str]:
    """One sentence per import in ``source`` that breaks the layering, naming the module, line and import."""
    layer = module.split(".")[0]
    if layer not in ALLOWED:
        return []
    problems = []
    for found in imports_in(source, module, is_package):
        if found.target.startswith("."):
            problems.append(f"{where or module}:{found.line}: {module} imports {found.target}: a relative import "
                            "above the project's packages")
        elif found.top in PACKAGES and found.top not in ALLOWED[layer]:
            problems.append(f"{where or module}:{found.line}: {module} imports {found.target}: {layer} may import "
                            f"only {', '.join(p for p in PACKAGES if p in ALLOWED[layer])}")
        elif layer == "dashboard" and (found.top in NEVER_IN_DASHBOARD or found.top.startswith("dagster_")):
            problems.append(f"{where or module}:{found.line}: {module} imports {found.target}: the dashboard "
                            "never imports Dagster or Great Expectations")
    return problems


def project_modules(root: Path) -> list[Path]:
    return sorted(p for package in PACKAGES if (root / package).is_dir()
                  for p in (root / package).rglob("*.py") if "__pycache__" not in p.parts)


def layering_problems(root: Path) -> list[str]:
    problems = []
    for path in project_modules(root):
        problems += problems_in(path.read_text(encoding="utf-8"), module_name(path, root),
                                path.name == "__init__.py", str(path.relative_to(root)))
    return problems


def test_every_import_points_down():
    problems = layering_problems(ROOT)
    assert not problems, "Imports that point up the layers:\n" + "\n".join(problems)


def test_the_walk_reads_every_package_and_nested_module():
    walked = {str(p.relative_to(ROOT)) for p in project_modules(ROOT)}
    for package in PACKAGES:
        assert f"{package}/__init__.py" in walked
    assert {"tracker/settings.py", "checks/return_contract.py", "assets/returns.py", "pipelines/cli.py",
            "dashboard/snapshot.py", "dashboard/app_pages/returns.py"} <= walked
    # the walker sees imports inside functions: pipelines/cli.py imports Dagster only when a run is asked for
    cli = imports_in((ROOT / "pipelines" / "cli.py").read_text(encoding="utf-8"), "pipelines.cli")
    assert "dagster" in {i.target for i in cli} and "pipelines.definitions" in {i.target for i in cli}


# (module, source, what the problem must say); the planted line ends with "# up".
PLANTED = [
    ("checks.platform_checks", "from assets.raw import OWNERS  # up\n", "checks.platform_checks imports assets.raw:"),
    ("tracker.warehouse", "def later():\n    import pipelines.cli  # up\n", "tracker.warehouse imports pipelines.cli:"),
    ("tracker.settings", "def later():\n    from checks import return_contract  # up\n", "imports checks:"),
    ("checks.return_files", "from ..assets import returns  # up\n", "checks.return_files imports assets:"),
    ("tracker", "from .. import dashboard  # up\n", "tracker imports dashboard:"),
    ("assets.raw", "import importlib\n\nimportlib.import_module('pipelines.definitions')  # up\n",
     "assets.raw imports pipelines.definitions:"),
    ("assets.publish", "class X:\n    def f(self):\n        from dashboard.snapshot import query  # up\n",
     "assets.publish imports dashboard.snapshot:"),
    ("dashboard.snapshot", "import dagster as dg  # up\n", "the dashboard never imports Dagster"),
    ("dashboard.components", "def f():\n    from dagster_duckdb import DuckDBResource  # up\n",
     "imports dagster_duckdb:"),
    ("dashboard.app_pages.returns", "def f():\n    import great_expectations as gx  # up\n",
     "imports great_expectations:"),
    ("dashboard.sections", "from assets.publish import SNAPSHOT_NAME  # up\n", "imports assets.publish:"),
    ("dashboard.charts", "from pipelines import settings  # up\n", "dashboard.charts imports pipelines:"),
    ("checks.return_files", "from ... import anything  # up\n", "imports ...anything: a relative import above"),
]


@pytest.mark.parametrize(("module", "source", "expected"), PLANTED)
def test_a_planted_upward_import_is_caught(module, source, expected):
    source = '"""Planted."""\n\nimport os\n' + source
    line = next(n for n, text in enumerate(source.splitlines(), 1) if text.endswith("# up"))
    problems = problems_in(source, module, is_package=module == "tracker")
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{module}:{line}: ") and expected in problems[0], problems


@pytest.mark.parametrize(("module", "source"), [
    ("tracker.return_inbox", "from tracker.settings import returns_inbox_dir\nfrom . import settings\n"),
    ("checks.return_checks", "from tracker.warehouse import connect\nfrom checks.return_contract import COLUMNS\n"),
    ("assets.returns", "def f():\n    from checks.return_validation import validate_return\n"),
    ("pipelines.cli", "from assets import publish\nfrom tracker import settings\nimport dagster\n"),
    ("dashboard.snapshot", "from tracker.settings import snapshot_path\nfrom checks.return_contract import COLUMNS\n"),
    ("dashboard.app_pages.returns", "import streamlit as st\nfrom dashboard.components import table\n"),
])
def test_downward_imports_pass(module, source):
    assert problems_in(source, module) == []


def test_a_planted_package_fails_with_module_line_and_import(tmp_path):
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text('"""A package."""\n')
    (tmp_path / "checks" / "contract.py").write_text("from tracker import settings\n")
    (tmp_path / "tracker" / "core.py").write_text(
        '"""Fine at the top."""\n\nimport os\n\n\ndef load():\n    from assets.returns import thing  # upward\n'
        "    return thing, os\n")
    (tmp_path / "dashboard" / "pages").mkdir()
    (tmp_path / "dashboard" / "pages" / "page.py").write_text("from ...pipelines import cli\n")
    assert layering_problems(tmp_path) == [
        "dashboard/pages/page.py:1: dashboard.pages.page imports pipelines: dashboard may import only "
        "tracker, checks, dashboard",
        "tracker/core.py:7: tracker.core imports assets.returns: tracker may import only tracker",
    ]


def test_the_dashboard_loads_neither_dagster_nor_great_expectations():
    """Beyond its own imports: what the dashboard's modules import from tracker and checks loads neither."""
    modules = [module_name(p, ROOT) for p in sorted((ROOT / "dashboard").glob("*.py"))
               if p.name != "app.py"]  # app.py and app_pages/ are Streamlit scripts: their imports are walked above
    code = (f"import sys\nfor m in {modules!r}:\n    __import__(m)\n"
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'great_expectations')"
            " or m.startswith('dagster_'))))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"Importing {modules} loaded: {result.stdout.strip()}"
