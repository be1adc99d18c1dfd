"""dagster-dbt is loaded without dbt-core in the processes that only start dbt (assets/dagster_dbt_only.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _in_a_new_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_loading_the_definitions_loads_no_dbt_core_and_leaves_it_importable():
    said = _in_a_new_python(
        "import sys\n"
        "from pipelines.definitions import defs\n"
        "import dagster_dbt.compat as compat\n"
        "loaded = sorted(m for m in sys.modules if m == 'dbt' or m.startswith('dbt.'))\n"
        "assert defs.resolve_job_def('refresh_all') is not None\n"
        "import dbt.version\n"  # held out only while dagster-dbt was imported
        "print(loaded, compat.DBT_PYTHON_VERSION, 'dbt.version' in sys.modules)\n")
    assert said == "[] None True"


def test_where_dbt_core_is_already_loaded_dagster_dbt_uses_it():
    said = _in_a_new_python(
        "import dbt.version\n"
        "import assets.dagster_dbt_only\n"
        "import dagster_dbt.compat as compat\n"
        "print(compat.DBT_PYTHON_VERSION == __import__('packaging.version').version.parse(dbt.version.__version__))\n")
    assert said == "True"


def test_the_marts_read_dbt_results_as_dbt_core_reports_them():
    """The statuses dagster-dbt compares dbt's results with, defined by dagster-dbt itself here, are dbt-core's."""
    said = _in_a_new_python(
        "import assets.dagster_dbt_only\n"
        "import dagster_dbt.compat as compat\n"
        "from dbt.contracts.results import NodeStatus, TestStatus\n"
        "from dbt.node_types import NodeType\n"
        "ours = {c.__name__: {m.name: m.value for m in c} for c in (compat.NodeStatus, compat.TestStatus)}\n"
        "theirs = {c.__name__: {m.name: m.value for m in c} for c in (NodeStatus, TestStatus)}\n"
        "missing = {n: {k: v for k, v in theirs[n].items() if ours[n].get(k) != v} for n in theirs}\n"
        "print(missing, compat.NodeType.Test == NodeType.Test, compat.NodeType.Model == NodeType.Model)\n")
    assert said == "{'NodeStatus': {}, 'TestStatus': {}} True True"
