"""`tracker bench` at the small size runs end to end and reports every figure (issue 17).

No timing is asserted here (timing goals live in the benchmark's own report, BENCHMARKS.md); this checks the
benchmark measures what it says: a full build and an incremental update that really took the new snapshot and
the new returns, the same full build with an empty inbox, the sensor's tick, validation, every dashboard query,
the marts built on PostgreSQL beside DuckDB, and the machine.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.postgres_marts import FIGURES as POSTGRES_FIGURES
from bench.postgres_marts import mart_names
from bench.run import NEW_RETURNS, measured_process

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def small_bench(tmp_path_factory) -> Path:
    """``tracker bench`` at the small size, once: its work folder (data, homes, logs, results)."""
    work = tmp_path_factory.mktemp("bench")
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "bench", "--sizes", "small", "--repeat", "1",
                           "--work", str(work)], cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return work


def test_the_small_benchmark_reports_every_figure(small_bench):
    work = small_bench
    result = json.loads((work / "bench-small.json").read_text(encoding="utf-8"))
    for figure in ("full_build_s", "incremental_s", "sensor_tick_s", "validate_warm_s", "validate_cold_s",
                   "dashboard_worst_p95_ms", "snapshot_mb", "full_build_peak_mb", "incremental_peak_mb",
                   "full_build_cpu_s", "full_build_cores", "incremental_cpu_s", "duckdb_script_cpu_s",
                   "pandas_cpu_s", "full_build_without_returns_s", "full_build_without_returns_cpu_s",
                   *POSTGRES_FIGURES):
        assert result[figure] > 0, figure
    assert result["machine"]["cores"] >= 1 and result["machine"]["cpu"]
    # the ratio is the median of each round's build over the script run straight after it
    paired = result["each_full_build_over_duckdb_script"]
    assert len(paired) == len(result["each_full_build_s"]) == len(result["each_full_build_over_pandas"])
    assert abs(result["full_build_over_duckdb_script"] - sorted(paired)[len(paired) // 2]) <= 0.06
    # a build's CPU time shared over every core is the least wall time it could take: never more than it took
    floors = result["each_full_build_cpu_floor_over_duckdb_script"]
    assert all(0 < floor <= ratio + 0.01 for floor, ratio in zip(floors, paired, strict=True))
    assert 0 < result["full_build_cpu_floor_over_duckdb_script"] <= result["full_build_over_duckdb_script"] + 0.06
    assert 0 < result["full_build_cpu_floor_over_pandas"] <= max(result["each_full_build_over_pandas"]) + 0.01
    from dashboard import snapshot

    functions = {name for name, f in inspect.getmembers(snapshot, inspect.isfunction)
                 if f.__module__ == snapshot.__name__ and not name.startswith("_")}
    assert set(result["dashboard_queries"]) == functions - {"published_dir", "snapshot_path", "snapshot_info"}
    assert all(q["p95_ms"] >= q["p50_ms"] > 0 for q in result["dashboard_queries"].values())

    # the increment really arrived: one more Pay snapshot and NEW_RETURNS more returns than the history held
    history, updated = result["history_held"], result["after_update_held"]
    assert updated["pay_snapshots"] - history["pay_snapshots"] == 1
    assert updated["returns_received"] - history["returns_received"] == NEW_RETURNS
    generated = result["generated"]
    assert updated["pay_snapshots"] == generated["pay_snapshots"]
    assert updated["returns_received"] == generated["returns_files"]
    # the build with an empty inbox read the same history, and no return
    assert result["without_returns_held"] == {"pay_snapshots": history["pay_snapshots"], "returns_received": 0}
    assert len(result["each_full_build_without_returns_s"]) == len(result["each_full_build_s"])
    for log in ("full-small-0.log", "incremental-small-0.log", "full-small-0-without-returns.log"):
        assert "finished in" in (work / log).read_text(encoding="utf-8")

    # the marts were built on PostgreSQL from the full build's warehouse: every model and data test passed there,
    # and every mart held as many rows as on DuckDB (the bench refuses to report a time otherwise)
    assert result["postgres_installed"] is True
    runs = json.loads((work / "postgres-marts-small" / "dbt-postgres" / "run_results.json").read_text())["results"]
    assert runs and all(r["status"] in ("success", "pass") for r in runs)
    built = {r["unique_id"].split(".")[-1] for r in runs if r["unique_id"].startswith("model.")}
    assert set(mart_names()) <= built and any(r["unique_id"].startswith("test.") for r in runs)
    assert result["marts_rows"]["marts"] == len(mart_names()) and result["marts_rows"]["rows"] > 1000

    # BENCHMARKS.md's tables are written from these results: every figure a row, with its value
    from bench.report import FIGURES, figures_table

    table = figures_table({"small": result})
    assert len(table.splitlines()) == 2 + len(FIGURES)
    assert f"{result['sensor_tick_s']:.3f}" in table and "n/a" not in table


def test_the_incremental_update_leaves_the_warehouse_equal_to_a_full_rebuild(small_bench):
    """The bench's update (one snapshot and NEW_RETURNS returns on top of the history, the unchanged sources kept,
    only what is new parsed and checked) equals one build of the same inputs from nothing, every table of the
    marts, staging, audit and quarantine compared on its declared key (load-time columns left out)."""
    from bench.run import SEED, full_rebuild, prepare
    from tests.warehouse_compare import compare_warehouses, mart_models

    work = small_bench
    updated = work / "home-small-0"  # the last (only) round: full build, then the update
    rebuild, home = full_rebuild(prepare("small", SEED, work), work, "small-rebuild")
    assert rebuild.returncode == 0, (work / "full-small-rebuild.log").read_text(encoding="utf-8")[-3000:]
    assert rebuild.held == json.loads((work / "bench-small.json").read_text(encoding="utf-8"))["after_update_held"]

    comparison = compare_warehouses(updated / "warehouse.duckdb", home / "warehouse.duckdb",
                                    schemas=("marts", "staging", "audit", "quarantine"))
    assert set(mart_models()) <= set(comparison.compared) and comparison.no_key == []
    assert sum(comparison.rows_compared.values()) > 10_000
    assert comparison.equal, comparison.report()

    # and the update did keep what had not changed, rather than build it again
    import dagster as dg

    with dg.DagsterInstance.from_config(str(updated / "dagster")) as instance:
        kept = instance.get_latest_materialization_event(dg.AssetKey(["staging", "forms_metrics"]))
        pay = instance.get_latest_materialization_event(dg.AssetKey(["staging", "pay_snapshots"]))
    assert str(kept.asset_materialization.metadata["inputs"].value).startswith("unchanged")
    assert "inputs" not in pay.asset_materialization.metadata


def test_a_measured_command_is_not_charged_the_bench_s_own_memory(tmp_path):
    """The bench holds large frames by the time it measures (pandas' marts): a command it measures is charged only
    its own peak memory, and its CPU time is its own too."""
    held = b"\x01" * (400 * 2**20)
    busy = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    measured = measured_process([sys.executable, "-c", busy], dict(os.environ), tmp_path / "command.log")
    assert measured.returncode == 0
    assert measured.peak_mb < 200, measured.peak_mb
    assert 0.3 <= measured.cpu_seconds < 5 and measured.seconds >= 0.3
    assert len(held) == 400 * 2**20
    failed = measured_process([sys.executable, "-c", "import sys; print('said'); sys.exit(3)"], dict(os.environ),
                              tmp_path / "failed.log")
    assert failed.returncode == 3 and (tmp_path / "failed.log").read_text().strip() == "said"


def test_without_postgresql_the_bench_says_so_and_reports_na(monkeypatch, tmp_path, capsys):
    """No PostgreSQL: the figures are null (nothing is started or read) and the report says why, not a crash."""
    import bench.postgres_marts
    from bench.postgres_server import NOT_INSTALLED
    from bench.report import FIGURES, figures_table

    monkeypatch.setattr(bench.postgres_marts, "installed", lambda: False)
    engines = bench.postgres_marts.measure(tmp_path / "no-such-warehouse.duckdb", 1, tmp_path / "work")
    assert engines == dict.fromkeys(POSTGRES_FIGURES) | {"postgres_installed": False}
    assert NOT_INSTALLED in capsys.readouterr().out
    result = {key: 1.0 for key, *_ in FIGURES} | {"repeat": 1} | engines
    table = figures_table({"small": result})
    assert table.count("n/a (PostgreSQL not installed)") == len(POSTGRES_FIGURES) == table.count("n/a")


def test_the_duckdb_script_and_pandas_agree_and_add_up(tmp_path):
    from bench.generate import generate
    from bench.side_by_side import Inputs, differences, duckdb_script, pandas_way

    data = tmp_path / "small"
    generate(data, "small", 20261203)
    inputs = Inputs(data, data / "inbox")
    script, frames = duckdb_script(inputs), pandas_way(inputs)
    assert differences(script, frames) == []

    # every month's total is its last snapshot's, matched or not
    by_month = script["pay_by_department_month"].groupby("month")["live_services"].sum()
    last = {}
    for path in inputs.pay_files():
        document = json.loads(path.read_text(encoding="utf-8"))
        day = dt.datetime.strptime(document["dateUpdated"], "%d %B %Y").date()
        last[day.replace(day=1)] = max(last.get(day.replace(day=1), (day, "", 0)),
                                       (day, path.name, sum(document["serviceCountByOrganisation"].values())))
    assert {m.date(): int(n) for m, n in by_month.items()} == {m: total for m, (_d, _n, total) in last.items()}
    matched = script["pay_by_department_month"]["department_slug"].notna()
    assert 0 < script["pay_by_department_month"][matched]["live_services"].sum() < by_month.sum()

    # every expected submitter once in every quarter
    expected, _days = inputs.schedule()
    status = script["returns_status_by_quarter"]
    assert status.groupby("reporting_quarter")["organisations"].sum().eq(len(expected)).all()
    assert set(status["status"]) <= {"received", "received late", "missing"}
    assert status.loc[status["status"] == "received", "organisations"].sum() > 0
    league = script["department_league"]
    assert league["expected_submitters"].sum() <= len(expected)

    # the comparison can fail
    changed = dict(frames)
    changed["department_league"] = frames["department_league"].assign(
        live_services=frames["department_league"]["live_services"] + 1)
    assert [d.split(":")[0] for d in differences(script, changed)] == ["department_league"]


def test_the_scaling_plot_is_written_as_an_image(tmp_path):
    from bench.run import SCALING, plot

    points = {f"{o}x{w}": {"organisations": o, "weeks": w, "full_build_s": 10 + o / 1000 + w / 10,
                           "pandas_s": 1 + o / 2000, "duckdb_script_s": 0.5 + w / 100}
              for sizes in SCALING.values() for o, w in sizes}
    result = {"axes": {axis: [f"{o}x{w}" for o, w in sizes] for axis, sizes in SCALING.items()}, "points": points}
    image = tmp_path / "scaling.png"
    plot(result, image)
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size > 10_000


@pytest.mark.parametrize(("repeat", "label"), [(1, "seconds (one run)"), (3, "seconds (median of 3 runs)"),
                                               (None, "seconds")])
def test_the_scaling_plot_says_whether_a_point_is_one_run_or_a_median(repeat, label):
    from bench.run import seconds_label

    assert seconds_label(repeat) == label
