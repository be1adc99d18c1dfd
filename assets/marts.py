"""The marts: a dbt project on the warehouse (assets/dbt/), loaded as Dagster assets by dagster-dbt.

Each model is one SQL file; ``ref()`` and ``source()`` in it are the lineage,
so the asset graph is the one the SQL reads. Sources are the tables Python
assets write (``assets/dbt/models/staging/_sources.yml``); run parameters such
as the reporting date come from ``staging.run_settings`` (assets/declarations.py),
not from dbt variables, so a new date needs no re-parse. dbt's tests on keys run
in the same ``dbt build`` and show in Dagster as asset checks.

The manifest is not committed: ``prepared_manifest()`` runs ``dbt parse`` when
the project's files change (or on first load) and otherwise reuses it. A run's
``dbt build`` reuses that parse too (dbt's partial parse), because it names the
warehouse by the same relative path in every home (``project_in_home``).
"""

# No `from __future__ import annotations`: Dagster must see the context and resource types as classes.

import fcntl
import hashlib
import importlib.metadata
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext, redirect_stdout
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster_duckdb import DuckDBResource
from packaging import version

from assets.dagster_dbt_only import DagsterDbtTranslator, DbtCliResource, dbt_assets
from assets.raw import OWNERS
from tracker.durable import write_atomically
from tracker.resources import TrackerConfig, TrackerWarehouse
from tracker.settings import dbt_run_dir, dbt_target_dir, warehouse_path
from tracker.warehouse import connect

if TYPE_CHECKING:
    from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

DBT_PROJECT_DIR = Path(__file__).resolve().parent / "dbt"
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")
DBT_LAUNCHER = "dbt-command"  # dbt_launcher(): dbt as each run starts it
WAREHOUSE_VARIABLE = "TRACKER_WAREHOUSE"  # read by assets/dbt/profiles.yml
TARGET_VARIABLE = "TRACKER_DBT_TARGET"  # which of the profile's outputs dbt builds in (README: "The warehouse on PostgreSQL")
DUCKDB_TARGET = "warehouse"  # the DuckDB file: the only warehouse a Dagster run writes
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests")


PARTIAL_PARSE = "partial_parse.msgpack"  # dbt's parse, which a run in a new home starts from (its own target folder)


def _written_since(parse: Path, stamp: Path) -> bool:
    """Whether dbt's parse was written after the stamp that vouches for it: by a dbt started by hand in a home's
    folder of links (whose ``target`` is the project's), with another warehouse path or target, which makes every
    new home's first build parse the whole project again (about 2 s)."""
    try:
        return parse.stat().st_mtime_ns > stamp.stat().st_mtime_ns
    except FileNotFoundError:
        return True


def _project_fingerprint(project_dir: Path, profile_warehouse: str) -> str:
    digest = hashlib.sha256(profile_warehouse.encode() + b"\0")  # the profile's path is part of what dbt parsed
    for entry in PROJECT_FILES:
        path = project_dir / entry
        for file in sorted([path] if path.is_file() else path.rglob("*")):
            if file.is_file():
                digest.update(str(file.relative_to(project_dir)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


@contextmanager
def warehouse_for_dbt(path: str) -> Iterator[None]:
    """dbt's profile reads the warehouse path from the environment; set it for one dbt invocation.

    The target is the DuckDB file whatever TRACKER_DBT_TARGET says: a Dagster run writes the staging tables there,
    so its marts are built there too (a PostgreSQL build is started by hand, on tables copied across)."""
    settings = {WAREHOUSE_VARIABLE: path, TARGET_VARIABLE: DUCKDB_TARGET}
    before = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def project_in_home(home: Path | None = None, project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """The dbt project as a folder of links inside the home, where a run's dbt runs.

    dbt parses the whole project again (3 to 8 s) whenever the profile differs from
    the last parse's, and the profile holds the warehouse's path. Run from here, dbt
    names the warehouse by a path relative to this folder (``warehouse_path_for_dbt``),
    which is the same in every home, so a first build in a new home reuses the parse."""
    run_dir = dbt_run_dir(home)
    run_dir.mkdir(parents=True, exist_ok=True)
    for entry in project_dir.iterdir():
        link = run_dir / entry.name
        if entry.name == "logs" or (link.is_symlink() and os.readlink(link) == str(entry)):
            continue
        if link.is_dir() and not link.is_symlink():  # a copy of the home copied the linked folder itself
            shutil.rmtree(link)
        made = run_dir / f".{entry.name}.{os.getpid()}.link"  # swapped in whole: processes may share a home
        made.unlink(missing_ok=True)
        made.symlink_to(entry)
        os.replace(made, link)
    return run_dir


def dbt_launcher(home: Path | None = None) -> Path:
    """An executable that starts ``dbt_command`` on this Python, for dagster-dbt, which starts dbt by one path.

    Written into the home (it names this Python and this checkout), and again only when that changes."""
    launcher = dbt_target_dir(home) / DBT_LAUNCHER
    root = DBT_PROJECT_DIR.parent.parent
    script = ("#!/bin/sh\n# dbt for this home's runs (assets/dbt_command.py): written by assets/marts.py\n"
              f"PYTHONPATH={shlex.quote(str(root))}${{PYTHONPATH:+:$PYTHONPATH}} "
              f"exec {shlex.quote(sys.executable)} -m assets.dbt_command \"$@\"\n")
    if not launcher.exists() or launcher.read_text() != script:
        launcher.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(launcher, script.encode(), mode=0o755)
    return launcher


# dbt builds two nodes at once in a warehouse this large: one node's SQL, which DuckDB runs outside Python's lock, is
# then long enough to overlap dbt's own work on the other (national size: the build 12.4-13.0 -> 10.0-10.8 s). In a
# smaller one the SQL is short and the two threads only take turns with Python's lock (small: 6.9-7.7 -> 7.3-8.1 s).
# A national warehouse is about 250 MB when a full build reaches the marts (it was over 256 MB while Pay's counts
# were stored twice), a medium one 64 MB after its marts.
TWO_THREADS_FROM_BYTES = 128 * 2**20


# dbt's debug log file and its JSON artifacts (the manifest, written twice, run_results.json and the graph) cost a
# build 1.3 s at small size (dbt build alone, four alternations: 7.7-9.1 -> 6.7-7.5 s). A run's log in Dagster holds
# dbt's own output, each node's result and any error's message (``with_row_counts``).
QUIET_BUILD = ("--log-level-file", "none", "--no-write-json")


def dbt_threads(warehouse: str | Path) -> int:
    try:
        size = Path(warehouse).stat().st_size
    except OSError:  # not a file dbt can build in yet: dbt says so itself
        return 1
    return 2 if size >= TWO_THREADS_FROM_BYTES else 1


def warehouse_path_for_dbt(warehouse: str | Path, home: Path | None = None) -> str:
    """The warehouse as dbt's profile names it: relative to where dbt runs, so the same string in every home."""
    return os.path.relpath(Path(warehouse).resolve(), dbt_run_dir(home).resolve())


def prepared_manifest(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """The project's manifest, parsed again only when a model, macro or setting has changed.

    A lock serialises processes that load the definitions at the same time
    (the webserver and the daemon's code servers)."""
    target = project_dir / "target"
    target.mkdir(parents=True, exist_ok=True)
    manifest, stamp = target / "manifest.json", target / "project.sha256"
    with open(target / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        profile_warehouse = warehouse_path_for_dbt(warehouse_path())
        fingerprint = _project_fingerprint(project_dir, profile_warehouse)
        if manifest.exists() and stamp.exists() and stamp.read_text() == fingerprint and \
                not _written_since(target / PARTIAL_PARSE, stamp):
            return manifest
        # Parsed with the profile's warehouse path as a run gives it (the same relative path in every home), so
        # that a run can use dbt's partial parse of this manifest (dbt parses everything again when it differs).
        with warehouse_for_dbt(profile_warehouse):
            done = subprocess.run(
                [DBT_EXECUTABLE, "parse", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
                 "--target-path", str(target), "--quiet"],
                capture_output=True, text=True, env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
            )
        if done.returncode != 0:
            raise RuntimeError(f"The dbt project in {project_dir} does not parse:\n{done.stdout}{done.stderr}")
        stamp.write_text(fingerprint)
        return manifest


@cache
def manifest() -> dict[str, Any]:
    return json.loads(prepared_manifest().read_text(encoding="utf-8"))


def table_name(node: Mapping[str, Any]) -> str:
    """schema.table, as the model is written in the warehouse."""
    return f"{node['schema']}.{node.get('alias') or node['name']}"


def models() -> list[Mapping[str, Any]]:
    return [n for n in manifest()["nodes"].values() if n["resource_type"] == "model"]


def mart_tables() -> list[str]:
    """Every table the marts layer writes, in name order: what the snapshot publishes."""
    return sorted(table_name(n) for n in models() if n["schema"] == "marts")


def column_descriptions() -> list[tuple[str, str, str]]:
    """(table, column, description) for every described model column: the dashboard's labels."""
    return [(table_name(n), column, spec.get("description") or "")
            for n in sorted(models(), key=table_name) for column, spec in n.get("columns", {}).items()]


class TrackerTranslator(DagsterDbtTranslator):
    """Models keep the keys they had as Python assets: [schema, table]."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "model":
            return dg.AssetKey(table_name(dbt_resource_props).split("."))
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "marts"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return OWNERS

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):  # noqa: ANN001 - dagster-dbt's signature
        """A dbt test as an asset check, described in words (dbt leaves its description empty)."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return spec._replace(description=describe_test(manifest["nodes"][unique_id]))


def describe_test(test: Mapping[str, Any]) -> str:
    """What a dbt test on a mart checks, in sentences for the Dagster UI and the data-quality page: for a model's
    ``rules`` test (``dbt/tests/generic/rules.sql``) each rule it holds the rows to, in the order it checks them."""
    meta = test.get("test_metadata") or {}
    if meta.get("name") != "rules":
        return f"dbt test {test['name']}."
    rules = meta.get("kwargs") or {}
    plain = [rule for rule in rules.get("not_null", []) if not isinstance(rule, Mapping)]
    sentences = [f"No two rows have the same {', '.join(key)}." for key in rules.get("keys", [])]
    sentences += [f"Every row has a value in {'each of ' if len(plain) > 1 else ''}{', '.join(plain)}."] if plain else []
    sentences += [f"Every row where {rule['where']} has a value in {rule['column']}."
                  for rule in rules.get("not_null", []) if isinstance(rule, Mapping)]
    sentences += [f"No two rows{_where(rule)} have the same {_column(rule)}." for rule in rules.get("unique", [])]
    sentences += [f"{rule['column']} is empty or one of: {', '.join(map(str, rule['values']))}"
                  f"{_on_rows(rule)}." for rule in rules.get("accepted", [])]
    sentences += [f"Every {rule['column']} given is a {rule['field']} in {_named(rule['to'])}{_on_rows(rule)}."
                  for rule in rules.get("references", [])]
    return " ".join(sentences)


def _column(rule: str | Mapping[str, Any]) -> str:
    return rule["column"] if isinstance(rule, Mapping) else rule


def _where(rule: str | Mapping[str, Any]) -> str:
    return f" where {rule['where']}" if isinstance(rule, Mapping) and rule.get("where") else ""


def _on_rows(rule: Mapping[str, Any]) -> str:
    return f" (on rows where {rule['where']})" if rule.get("where") else ""


def _named(relation: str) -> str:
    """"{{ ref('metric_series') }}" -> "metric_series"; sources as schema.table."""
    parts = [p.strip(" '\"") for p in relation.split("(", 1)[-1].rstrip(" })").split(",")]
    return ".".join(parts)


class TrackerDbtCliResource(DbtCliResource):
    """dbt as a separate process, without also loading dbt's adapter into this one.

    dagster-dbt opens an in-process adapter only to fetch row counts and column
    metadata; each model's post-hook logs its row count instead (``with_row_counts``),
    which saves about two seconds a run. Nor does it ask
    the executable its version (``_cli_version``).
    """

    def _initialize_dbt_core_adapter(self, args):  # dagster-dbt's private hook
        return None

    @cached_property
    def _cli_version(self) -> version.Version:  # dagster-dbt's private property
        """dbt-core's version as installed beside this Python, which ``DBT_EXECUTABLE`` and ``dbt_launcher``
        start: dagster-dbt starts ``dbt --version`` to learn it, 1.5 s of every run."""
        if self.dbt_executable == DBT_EXECUTABLE or Path(self.dbt_executable).name == DBT_LAUNCHER:
            try:
                return version.parse(importlib.metadata.version("dbt-core"))
            except importlib.metadata.PackageNotFoundError:  # another dbt (Fusion) installed as this script
                pass
        return super()._cli_version


def dbt_resource() -> DbtCliResource:
    return TrackerDbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR),
                                 dbt_executable=DBT_EXECUTABLE)


@dbt_assets(manifest=manifest(), dagster_dbt_translator=TrackerTranslator(), name="marts")
def marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: TrackerConfig,
          warehouse: DuckDBResource):
    """One ``dbt build`` per run: the selected models and their tests, in dependency order.

    Each model and test result is passed to Dagster as dbt reports it, so Dagster records them while dbt goes on
    building. dbt's own log goes to the run's log in one message rather than to the terminal of whoever started
    the run.
    """
    output = io.StringIO()
    run_from = {"project_dir": str(project_in_home(settings.home))}
    if dbt.dbt_executable == DBT_EXECUTABLE:  # this Python's dbt, started through the launcher (dbt_command.py)
        run_from["dbt_executable"] = str(dbt_launcher(settings.home))
    in_home = dbt.model_copy(update=run_from)
    released = warehouse.released() if isinstance(warehouse, TrackerWarehouse) else nullcontext()
    results, failed_models, failed_checks = 0, [], []
    with released, warehouse_for_dbt(warehouse_path_for_dbt(warehouse.database, settings.home)), \
            redirect_stdout(output):
        invocation = in_home.cli(["build", "--threads", str(dbt_threads(warehouse.database)), *QUIET_BUILD],
                                 context=context, target_path=dbt_target_dir(settings.home), raise_on_error=False)
        for event in with_row_counts(invocation, failed_models):
            results += 1
            if isinstance(event, dg.AssetCheckResult) and not event.passed:
                failed_checks.append(event)  # said once dbt has let go of the warehouse, with the rules broken
                continue
            yield event
    context.log.info("dbt build:\n" + output.getvalue())
    for check in failed_checks:
        yield with_broken_rules(check, warehouse, settings.home)
    # A failed dbt test is a failed asset check (dbt skips the models after it); a model that
    # could not be built fails the step, naming it.
    if failed_models or (not invocation.is_successful() and not results):
        said = [line.strip() for line in output.getvalue().splitlines() if line.strip()][-3:]
        raise dg.Failure(description="The marts could not be built: "
                         + ("; ".join(failed_models) or "dbt stopped: " + " ".join(said)))


def built_test_sql(home: Path, test: Mapping[str, Any], stage: str = "compiled") -> Path:
    """Where the home's last dbt build wrote a data test's SQL: as compiled, or (``run``) as dbt ran it, wrapped
    in its count of failures."""
    return dbt_target_dir(home) / stage / test["package_name"] / test["original_file_path"] / f"{test['name']}.sql"


def with_broken_rules(check: dg.AssetCheckResult, warehouse: DuckDBResource, home: Path) -> dg.AssetCheckResult:
    """A failed rules check with the rules its model's rows break, and how many rows break each, in its description
    and metadata: its compiled SQL (``dbt/tests/generic/rules.sql``) run again, dbt having said only how many.
    As dbt said it if that cannot be done (another kind of test, the SQL not written, another engine)."""
    import duckdb

    node = next((n for n in manifest()["nodes"].values() if n["resource_type"] == "test"
                 and n["name"] == check.check_name and (n.get("test_metadata") or {}).get("name") == "rules"), None)
    if node is None:
        return check
    try:
        with connect(warehouse) as con:
            broken = con.execute(built_test_sql(home, node).read_text(encoding="utf-8")).fetchall()
    except (OSError, duckdb.Error):
        return check
    said = "; ".join(f"{rule} ({rows:,} {'row' if rows == 1 else 'rows'})" for rule, rows in broken)
    return check._replace(description=f"Rules broken: {said}.",
                          metadata={**check.metadata, "broken_rules": dg.MetadataValue.json(dict(broken))})


ROW_COUNT_LINE = re.compile(r"Rows in .+: (\d+)$")  # logged by each model's post-hook (dbt/macros/row_count.sql)


def with_row_counts(invocation: "DbtCliInvocation", failed_models: list[str] | None = None) -> Iterator:
    """dagster-dbt's events for the build as dbt reports them, each model's with the row count it logged.

    Each model dbt could not build goes into ``failed_models`` with dbt's own message: dbt writes no
    run_results.json in a run (``QUIET_BUILD``), and the message is the one it would have held.
    """
    counts: dict[str, int] = {}
    for message in invocation.stream_raw_events():
        data = message.raw_event["data"]
        info, unique_id = message.raw_event["info"], data.get("node_info", {}).get("unique_id")
        if info["name"] == "RunResultError" and (unique_id or "").startswith("model.") and failed_models is not None:
            failed_models.append(f"{unique_id.split('.')[-1]}: {(data.get('msg') or '').strip()}")
        counted = ROW_COUNT_LINE.match(info.get("msg") or "") if info["name"] == "JinjaLogInfo" else None
        if counted and unique_id:
            counts[unique_id] = int(counted.group(1))
            continue
        for event in message.to_default_asset_events(
                manifest=invocation.manifest, dagster_dbt_translator=invocation.dagster_dbt_translator,
                context=invocation.context, target_path=invocation.target_path, project=invocation.project):
            count = counts.get(unique_id) if isinstance(event, dg.Output) else None  # the model this message is on
            if count is not None:
                event = event.with_metadata({**event.metadata, "dagster/row_count": dg.MetadataValue.int(count)})
            yield event
