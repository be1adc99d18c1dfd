"""Shared fixtures: the whole graph materialised once, on the shipped data, into a temporary folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from assets.marts import dbt_resource
from tracker.resources import TrackerConfig

PROJECT = Path(__file__).resolve().parent.parent
DATA = PROJECT / "data"
AS_OF = "2026-01-31"


def make_resources(home: Path, data: Path = DATA, as_of: str = AS_OF) -> dict:
    home.mkdir(parents=True, exist_ok=True)
    return {
        "warehouse": DuckDBResource(database=str(home / "warehouse.duckdb")),
        "dbt": dbt_resource(),
        "settings": TrackerConfig(data_dir=str(data), home_dir=str(home), as_of=as_of),
    }


def build_models(warehouse: Path, select: str) -> None:
    """Build dbt models (a selection) on a warehouse file, as the marts asset does, outside a Dagster run."""
    from assets.marts import dbt_resource, warehouse_for_dbt
    from tracker.settings import dbt_target_dir

    with warehouse_for_dbt(str(warehouse)):
        dbt_resource().cli(["run", "--select", select], target_path=dbt_target_dir(warehouse.parent)).wait()


def everything():
    from pipelines.definitions import all_assets, all_checks

    return [*all_assets, *all_checks]


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> dict:
    """The demo's run: the illustrative sample returns in the inbox, then every asset and check, once."""
    from pipelines.return_commands import deliver_samples

    home = tmp_path_factory.mktemp("tracker_home")
    delivered = deliver_samples(home, DATA)
    result = dg.materialize(everything(), resources=make_resources(home), raise_on_error=False)
    return {"home": home, "result": result, "delivered": delivered}


@pytest.fixture()
def returns_home(built, tmp_path) -> Path:
    """A private copy of the built warehouse (reference and platform tables) with no returns in it."""
    import duckdb as db

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(built["home"] / "warehouse.duckdb", home / "warehouse.duckdb")
    con = db.connect(str(home / "warehouse.duckdb"))
    for table in ("raw.return_files", "audit.return_submissions", "quarantine.return_problems",
                  "staging.department_returns", "staging.accepted_returns"):
        con.execute(f"DROP TABLE {table}")
    for table in ("audit.returns_window_closures", "audit.returns_window_late"):  # no window closed either
        con.execute(f"DROP TABLE IF EXISTS {table}")
    con.close()
    return home


def ingest(home: Path, files: list[str] | None = None, as_of: str = AS_OF, raise_on_error: bool = True,
           instance: dg.DagsterInstance | None = None):
    """Run the ingestion asset the way the sensor's run does (optionally for named inbox files)."""
    from assets.returns import department_returns

    config = {"ops": {"department_returns": {"config": {"files": [str(f) for f in files]}}}} if files else None
    return dg.materialize([department_returns], resources=make_resources(home, as_of=as_of), run_config=config,
                          raise_on_error=raise_on_error, instance=instance)


def query(home: Path, sql: str, params=None) -> list[tuple]:
    """Rows from a home's warehouse, on a connection closed straight after (so the next run can write)."""
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


@pytest.fixture()
def con(tmp_path):
    """A new, empty warehouse file of its own (its raw store beside it), open for writing."""
    from tracker.warehouse import ensure_schemas

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_schemas(con)
    yield con
    con.close()


@pytest.fixture()
def warehouse(built):
    con = duckdb.connect(str(built["home"] / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()


@pytest.fixture()
def data_copy(tmp_path) -> Path:
    """A private copy of the shipped data that a test may break."""
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    return target


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright (never a downloaded browser), for the browser tests."""
    from playwright.sync_api import sync_playwright

    from tests.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does).")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server (Debian's package), started once for the tests that need one."""
    from bench.postgres_server import start

    server = start()
    yield server
    server.stop()


def interrupted_run(env: dict, until) -> tuple[str, int, float]:
    """``tracker run`` in a session of its own, sent SIGINT to its whole group (as a terminal's Ctrl-C does) once
    ``until(lines printed so far)`` is true: (everything it printed, its exit code, seconds from the interrupt to
    its end)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    process = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run"], cwd=PROJECT, text=True, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    seen = []
    try:
        for line in process.stdout:
            seen.append(line)
            if until(seen):
                break
        os.killpg(process.pid, signal.SIGINT)
        interrupted = time.monotonic()
        rest, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return "".join(seen) + rest, process.returncode, time.monotonic() - interrupted
