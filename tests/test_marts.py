"""The marts' lineage is the SQL's: every table a model reads is an upstream asset, and nothing else is."""

from __future__ import annotations

import json

import dagster as dg
import pytest
import sqlglot
from sqlglot import exp

from assets.marts import DBT_PROJECT_DIR, PARTIAL_PARSE, manifest, mart_tables, models, prepared_manifest, table_name
from pipelines.definitions import defs
from tracker.settings import dbt_target_dir


def tables_read(sql: str) -> set[str]:
    """schema.table for every table a query reads (CTE names excluded, and table functions such as
    generate_series, which read no table), as DuckDB would resolve them."""
    tree = sqlglot.parse_one(sql, dialect="duckdb")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    return {f"{t.db}.{t.name}" for t in tree.find_all(exp.Table)
            if not isinstance(t.this, exp.Func) and (t.db or t.name not in ctes)}


def lineage_mismatches(models: dict[str, str], upstream: dict[str, set[str]]) -> list[str]:
    """Each model whose declared upstream tables differ from the tables its SQL reads."""
    problems = []
    for table, sql in sorted(models.items()):
        read, declared = tables_read(sql), upstream.get(table, set())
        if read != declared:
            problems.append(f"{table}: reads but not upstream {sorted(read - declared)}; "
                            f"upstream but not read {sorted(declared - read)}")
    return problems


def graph_upstream() -> dict[str, set[str]]:
    graph = defs.resolve_asset_graph()
    return {".".join(key.path): {".".join(parent.path) for parent in graph.get(key).parent_keys}
            for key in graph.get_all_asset_keys()}


@pytest.fixture(scope="module")
def compiled_models(built) -> dict[str, str]:
    """Each model's SQL as dbt compiled it in the session's run (refs and sources resolved)."""
    compiled = dbt_target_dir(built["home"]) / "compiled"
    return {table_name(n): (compiled / n["package_name"] / n["original_file_path"]).read_text(encoding="utf-8")
            .replace('"warehouse".', "")
            for n in manifest()["nodes"].values() if n["resource_type"] == "model"}


def test_every_model_reads_exactly_its_upstream_assets(compiled_models):
    assert len(compiled_models) == len([n for n in manifest()["nodes"].values() if n["resource_type"] == "model"])
    assert lineage_mismatches(compiled_models, graph_upstream()) == []


def test_a_planted_wrong_dependency_is_caught(compiled_models):
    upstream = graph_upstream()
    upstream["marts.pay_monthly"] = upstream["marts.pay_monthly"] - {"staging.pay_snapshots"}
    upstream["marts.department_scorecard"] = upstream["marts.department_scorecard"] | {"staging.targets"}
    problems = lineage_mismatches(compiled_models, upstream)
    assert len(problems) == 2
    assert "marts.pay_monthly: reads but not upstream ['staging.pay_snapshots']" in problems[1]
    assert "upstream but not read ['staging.targets']" in problems[0]


def test_a_hard_coded_table_would_be_read_and_reported():
    sql = "WITH staging AS (SELECT 1) SELECT * FROM staging.pay_snapshots JOIN staging USING (x)"
    assert tables_read(sql) == {"staging.pay_snapshots"}
    assert lineage_mismatches({"marts.x": sql}, {"marts.x": set()})


def test_sources_are_only_tables_python_assets_write():
    graph = defs.resolve_asset_graph()
    models = {tuple(t.split(".")) for t in mart_tables()} | {
        (n["schema"], n["name"]) for n in manifest()["nodes"].values() if n["resource_type"] == "model"}
    for source in manifest()["sources"].values():
        key = dg.AssetKey([source["source_name"], source["name"]])
        assert (source["source_name"], source["name"]) not in models, f"source {key} names a model"
        assert graph.has(key) and graph.get(key).is_materializable, f"no Python asset writes {key}"
        assert graph.get(key).assets_def.node_def.name != "marts", f"{key} is written by dbt"


def test_every_mart_and_column_is_described():
    for node in manifest()["nodes"].values():
        if node["resource_type"] == "model" and node["schema"] == "marts":
            assert node["description"], node["name"]
            assert node["columns"], f"{node['name']} has no column descriptions"
            assert all(c.get("description") for c in node["columns"].values()), node["name"]


def test_dbt_tests_run_as_asset_checks(built):
    """Each model's rules test is one asset check on the model's asset, described in words, and passed."""
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e
                   for e in built["result"].get_asset_check_evaluations()}
    models = [n for n in manifest()["nodes"].values() if n["resource_type"] == "model"]
    expected = {(table_name(m).replace(".", "/"), f"{m['name']}_rules") for m in models}
    assert expected <= set(evaluations)
    assert [k for k in expected if not evaluations[k].passed] == []
    graph = defs.resolve_asset_graph()
    for asset, check in expected:
        assert graph.get_check_spec(dg.AssetCheckKey(dg.AssetKey(asset.split("/")), check)).description


def test_a_first_build_in_a_new_home_reuses_the_projects_parse(built, tmp_path):
    """The session's build ran in a home of its own: dbt reused the project's parse instead of parsing it all
    again (which it does when the profile's warehouse path differs), and the path it was given is relative."""
    from assets.marts import warehouse_path_for_dbt

    parsed = "partial_parse.msgpack"  # dbt writes it again only when it parsed the project again
    assert (dbt_target_dir(built["home"]) / parsed).read_bytes() == (DBT_PROJECT_DIR / "target" / parsed).read_bytes()
    assert warehouse_path_for_dbt(built["home"] / "warehouse.duckdb", built["home"]) == \
        warehouse_path_for_dbt(tmp_path / "warehouse.duckdb", tmp_path) == "../../warehouse.duckdb"
    elsewhere = warehouse_path_for_dbt(tmp_path / "other" / "w.duckdb", built["home"])  # still names the file
    assert (dbt_target_dir(built["home"]) / "project" / elsewhere).resolve() == (tmp_path / "other" / "w.duckdb")


def test_the_folder_of_links_is_mended_in_a_copied_or_moved_home(tmp_path):
    """A home copied by a tool that follows links holds real folders where the links were, and one made beside
    another clone links there: either way the next build points every link at this project again."""
    import shutil

    from assets.marts import DBT_PROJECT_DIR, project_in_home

    project_in_home(tmp_path / "first")
    shutil.copytree(tmp_path / "first", tmp_path / "copy")
    run_dir = dbt_target_dir(tmp_path / "copy") / "project"
    assert not (run_dir / "models").is_symlink() and (run_dir / "models").is_dir()
    (run_dir / "macros").unlink() if (run_dir / "macros").is_symlink() else shutil.rmtree(run_dir / "macros")
    (run_dir / "macros").symlink_to(tmp_path)  # another clone's project
    assert project_in_home(tmp_path / "copy") == run_dir
    entries = [e for e in DBT_PROJECT_DIR.iterdir() if e.name != "logs"]
    assert entries and all((run_dir / e.name).is_symlink() and (run_dir / e.name).resolve() == e.resolve()
                           for e in entries)
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(e.name for e in entries)  # no temporary link left


def test_a_changed_model_is_picked_up_without_a_manual_step(tmp_path):
    import shutil

    project = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    first = prepared_manifest(project)
    parsed_at = first.stat().st_mtime_ns
    assert prepared_manifest(project).stat().st_mtime_ns == parsed_at  # unchanged project: no new parse
    model = project / "models" / "marts" / "platforms" / "pay_monthly.sql"
    model.write_text(model.read_text() + "\n-- a comment that changes nothing but the file\n")
    nodes = json.loads(prepared_manifest(project).read_text())["nodes"]
    assert "a comment that changes nothing" in nodes["model.adoption_tracker.pay_monthly"]["raw_code"]


def test_a_parse_written_over_by_a_dbt_started_by_hand_is_made_again(tmp_path):
    """A dbt started by hand in a home's folder of links writes its parse into the project's (another warehouse
    path, another profile): the next load parses the project again, so a new home's first build does not parse it
    all again."""
    import os
    import shutil

    project = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    manifest = prepared_manifest(project)
    parse, stamp = project / "target" / PARTIAL_PARSE, project / "target" / "project.sha256"
    parsed_at = manifest.stat().st_mtime_ns
    parse.write_bytes(b"another profile's parse")
    later = stamp.stat().st_mtime_ns + 1_000_000_000
    os.utime(parse, ns=(later, later))
    assert prepared_manifest(project).stat().st_mtime_ns > parsed_at  # parsed again
    assert parse.read_bytes() != b"another profile's parse" and stamp.stat().st_mtime_ns >= parse.stat().st_mtime_ns
    again = manifest.stat().st_mtime_ns
    assert prepared_manifest(project).stat().st_mtime_ns == again  # and then kept


def _rebuild_marts(built, tmp_path, damage: str, instance: dg.DagsterInstance | None = None):
    """The marts rebuilt on a copy of the session's warehouse after one SQL statement damages it."""
    import shutil

    import duckdb

    from assets.marts import marts
    from tests.conftest import make_resources

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(built["home"] / "warehouse.duckdb", home / "warehouse.duckdb")
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute(damage)
    con.close()
    return dg.materialize([marts], resources=make_resources(home), raise_on_error=False, instance=instance)


def test_a_model_that_cannot_be_built_fails_the_step_by_name_and_keeps_the_others(built, tmp_path):
    from pipelines.cli import failure_messages

    result = _rebuild_marts(built, tmp_path, "DROP TABLE staging.target_rules")
    assert not result.success
    message = " ".join(failure_messages(result))
    assert "The marts could not be built: target_progress:" in message and "Traceback" not in message
    built_now = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "marts/metric_series" in built_now and "marts/target_progress" not in built_now


def test_a_failing_dbt_test_is_a_failed_blocking_check_and_nothing_after_it_is_published(built, tmp_path):
    from pipelines.cli import failure_messages

    result = _rebuild_marts(built, tmp_path, "INSERT INTO staging.targets SELECT * FROM staging.targets LIMIT 1")
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [(e.asset_key.to_user_string(), e.check_name) for e in failed] == [
        ("marts/target_progress", "target_progress_rules")]
    assert failed[0].severity == dg.AssetCheckSeverity.ERROR and failed[0].blocking
    # which rule the rows break, and how many, not only that some rule is broken
    assert failed[0].description == "Rules broken: unique target_id (1 row)."
    assert failed[0].metadata["broken_rules"].value == {"unique target_id": 1}
    assert not result.success  # a blocking check failed: the snapshot after the marts is not published
    built_now = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "marts/metric_series" in built_now  # the models were built and recorded
    assert failure_messages(result) == ["marts: 1 blocking asset check failed with ERROR severity:"]


def test_the_dbt_version_dagster_dbt_needs_is_the_executables_without_starting_it(monkeypatch, tmp_path):
    """dagster-dbt asks ``dbt --version`` (1.5 s a run); the tracker's resource reads the installed dbt-core's."""
    import importlib.metadata
    import re
    import subprocess

    from packaging import version

    from assets.marts import DBT_EXECUTABLE, DBT_PROJECT_DIR, TrackerDbtCliResource, dbt_resource

    said = subprocess.check_output([DBT_EXECUTABLE, "--version"], text=True)
    expected = version.parse(re.search(r"(\d+\.\d+\.\d+)", said).group(1))

    def started(*args, **kwargs):
        raise AssertionError(f"a process was started: {args}")

    monkeypatch.setattr("dagster_dbt.core.resource.check_output", started)
    assert dbt_resource()._cli_version == expected
    elsewhere = tmp_path / "dbt"
    elsewhere.write_text("#!/bin/sh\necho 'Core: 9.9.9'\n")
    elsewhere.chmod(0o755)
    other = TrackerDbtCliResource(project_dir=str(DBT_PROJECT_DIR), dbt_executable=str(elsewhere))
    with pytest.raises(AssertionError, match="a process was started"):  # any other executable is asked
        _ = other._cli_version

    def not_installed(package):
        raise importlib.metadata.PackageNotFoundError(package)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)  # a dbt that is not dbt-core: asked too
    with pytest.raises(AssertionError, match="a process was started"):
        _ = dbt_resource()._cli_version


def test_the_launcher_starts_this_pythons_dbt_and_passes_on_its_exit_code(tmp_path):
    """Each run starts dbt through a launcher written into the home (assets/dbt_command.py): it runs dbt on
    this Python, ends with dbt's own exit code, and is written again only when what it names changes."""
    import os
    import subprocess
    import sys

    from assets.marts import dbt_launcher

    launcher = dbt_launcher(tmp_path)
    assert os.access(launcher, os.X_OK) and sys.executable in launcher.read_text()
    version = subprocess.run([str(launcher), "--version"], capture_output=True, text=True, timeout=120,
                             cwd=tmp_path, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert version.returncode == 0 and "installed" in version.stdout
    wrong = subprocess.run([str(launcher), "no-such-command"], capture_output=True, text=True, timeout=120,
                           cwd=tmp_path)
    assert wrong.returncode == 2 and "No such command" in wrong.stderr and "Traceback" not in wrong.stderr
    written = launcher.stat().st_ino
    assert dbt_launcher(tmp_path) == launcher and launcher.stat().st_ino == written  # unchanged: not rewritten
    launcher.write_text("#!/bin/sh\nexit 9\n")  # another checkout's, or a damaged one
    assert sys.executable in dbt_launcher(tmp_path).read_text() and os.access(launcher, os.X_OK)



def test_dbt_leaves_the_warehouse_checkpointed_and_says_nothing_more(built, tmp_path):
    """The launcher's dbt ends without Python's teardown, yet closes the warehouse first: nothing is left in the
    write-ahead log for the next process to replay, and no warning of leaked objects reaches the log."""
    import os
    import shutil
    import subprocess

    from assets.marts import dbt_launcher, project_in_home, warehouse_path_for_dbt

    home = tmp_path / "home"
    shutil.copytree(built["home"], home, symlinks=True, ignore=shutil.ignore_patterns("dagster"))
    run_dir = project_in_home(home)
    env = {**os.environ, "TRACKER_WAREHOUSE": warehouse_path_for_dbt(home / "warehouse.duckdb", home),
           "TRACKER_DBT_TARGET": "warehouse", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    done = subprocess.run([str(dbt_launcher(home)), "run", "--select", "sources", "--project-dir", str(run_dir),
                           "--profiles-dir", str(run_dir), "--target-path", str(dbt_target_dir(home))],
                          cwd=run_dir, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "leaked" not in done.stderr and "Traceback" not in done.stderr
    assert not (home / "warehouse.duckdb.wal").exists()


def test_each_model_shows_the_row_count_it_logged_as_dbt_built_it(built):
    """Every model's materialization carries its table's row count, logged by the model's post-hook while dbt
    built it (dbt/macros/row_count.sql), and equal to the table's count."""
    import duckdb

    models_built = {table_name(n) for n in models()}
    shown = {}
    for event in built["result"].get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if ".".join(materialization.asset_key.path) in models_built:
            shown[".".join(materialization.asset_key.path)] = materialization.metadata.get("dagster/row_count")
    assert set(shown) == models_built and None not in shown.values()
    con = duckdb.connect(str(built["home"] / "warehouse.duckdb"), read_only=True)
    try:
        counted = {table: con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] for table in shown}
    finally:
        con.close()
    assert {table: value.value for table, value in shown.items()} == counted
    assert sum(counted.values()) > 0


class _Message:
    """A dbt log line as dagster-dbt streams it, turning into the given Dagster events."""

    def __init__(self, name: str, msg: str, unique_id: str | None, events=(), data=None):
        self.raw_event = {"info": {"name": name, "msg": msg},
                          "data": ({"node_info": {"unique_id": unique_id}} if unique_id else {}) | (data or {})}
        self.events = list(events)

    def to_default_asset_events(self, **_context):
        return self.events


def test_a_row_count_goes_on_its_own_model_and_no_line_becomes_an_event():
    from types import SimpleNamespace

    from assets.marts import with_row_counts

    first, second, third = (dg.Output(None, output_name=name, metadata={"unique_id": f"model.p.{name}"})
                            for name in ("first", "second", "third"))
    check = dg.AssetCheckResult(asset_key="first", check_name="unique", passed=True)
    messages = [
        _Message("JinjaLogInfo", 'Rows in "w"."marts"."first": 12', "model.p.first"),
        _Message("JinjaLogInfo", "Rows in a note someone logged: 5", None),  # not on a node: ignored
        _Message("LogModelResult", "1 of 3 OK", "model.p.first", [first]),
        _Message("LogTestResult", "PASS", "test.p.unique", [check]),
        _Message("JinjaLogInfo", 'Rows in "w"."marts"."second": 0', "model.p.second"),
        _Message("JinjaLogInfo", "Rows in marts.third: many", "model.p.third"),  # not a number: not a count
        _Message("LogModelResult", "2 of 3 OK", "model.p.second", [second]),
        _Message("LogModelResult", "3 of 3 OK", "model.p.third", [third]),
    ]
    messages += [  # dbt's message on each node it could not build, after the results
        _Message("RunResultError", "  Binder Error: no column x", "model.p.third",
                 data={"msg": "Binder Error: no column x\n"}),
        _Message("RunResultError", "  Got 1 result", "test.p.unique", data={"msg": "Got 1 result"}),  # its check says
        _Message("RunResultError", "  Database Error", None, data={"msg": "Database Error"}),  # on no node
    ]
    invocation = SimpleNamespace(stream_raw_events=lambda: iter(messages), manifest={}, dagster_dbt_translator=None,
                                 context=None, target_path=None, project=None)
    failed_models = []
    events = list(with_row_counts(invocation, failed_models))
    assert failed_models == ["third: Binder Error: no column x"]
    assert [type(e).__name__ for e in events] == ["Output", "AssetCheckResult", "Output", "Output"]
    counts = {e.output_name: e.metadata.get("dagster/row_count") for e in events if isinstance(e, dg.Output)}
    assert counts["first"].value == 12 and counts["second"].value == 0 and counts["third"] is None


def test_dbt_builds_two_nodes_at_once_only_in_a_large_warehouse(tmp_path):
    from assets.marts import TWO_THREADS_FROM_BYTES, dbt_threads

    warehouse = tmp_path / "warehouse.duckdb"
    assert dbt_threads(warehouse) == 1  # not there yet: dbt reports that itself
    with open(warehouse, "wb") as file:
        file.truncate(TWO_THREADS_FROM_BYTES - 1)
    assert dbt_threads(warehouse) == 1
    with open(warehouse, "wb") as file:
        file.truncate(TWO_THREADS_FROM_BYTES)
    assert dbt_threads(warehouse) == 2


def test_two_threads_build_the_same_marts_as_one(built, tmp_path, monkeypatch):
    """Built two nodes at a time, the marts and dbt's staging tables equal the session's one-thread build."""
    import assets.marts
    from tests.warehouse_compare import compare_warehouses

    monkeypatch.setattr(assets.marts, "TWO_THREADS_FROM_BYTES", 0)
    instance = dg.DagsterInstance.ephemeral()
    result = _rebuild_marts(built, tmp_path, "CHECKPOINT", instance)
    assert result.success
    said = [entry.user_message for entry in instance.all_logs(result.run_id) if "dbt build:" in entry.user_message]
    assert len(said) == 1 and "Concurrency: 2 threads" in said[0]
    assert len(result.get_asset_check_evaluations()) == len(models())  # each model's rules, every one passed
    assert all(e.passed for e in result.get_asset_check_evaluations())
    comparison = compare_warehouses(tmp_path / "home" / "warehouse.duckdb", built["home"] / "warehouse.duckdb")
    assert comparison.equal, comparison.report()
    assert {"staging.returns_in_force", "staging.return_platform_figures", "marts.return_adoption"} <= set(
        comparison.compared)


def test_each_table_is_replaced_in_place_and_what_an_older_build_left_is_cleared(built, tmp_path):
    """A model's table is replaced by one CREATE OR REPLACE (dbt/macros/table_in_place.sql): a mart that was a view
    becomes a table, and the intermediate and backup tables dbt-duckdb's own materialization left in a build killed
    part way are dropped; nothing else is left beside the marts."""
    import duckdb

    result = _rebuild_marts(built, tmp_path, """
        CREATE TABLE marts.pay_monthly__dbt_tmp AS SELECT * FROM marts.pay_monthly;
        CREATE TABLE marts.pay_monthly__dbt_backup AS SELECT * FROM marts.pay_monthly;
        DROP TABLE marts.pay_quarterly;
        CREATE VIEW marts.pay_quarterly AS SELECT 1 AS stale""")
    assert result.success
    con = duckdb.connect(str(tmp_path / "home" / "warehouse.duckdb"), read_only=True)
    try:
        left = con.execute("SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'marts' "
                           "AND (table_name LIKE '%__dbt_%' OR table_type <> 'BASE TABLE')").fetchall()
        columns = [c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'marts' AND table_name = 'pay_quarterly'").fetchall()]
        rows = con.execute("SELECT count(*) FROM marts.pay_quarterly").fetchall()[0][0]
    finally:
        con.close()
    assert left == []
    assert "stale" not in columns and rows > 0
