"""`tracker bench` at the small size runs end to end and reports every figure (issue 17).

No timing is asserted here (timing goals live in the benchmark's own report, BENCHMARKS.md); this checks the
benchmark measures what it says: a full build and an incremental update that really took the new snapshot and
the new returns, the sensor's tick, validation, every dashboard query, and the machine.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

from bench.run import NEW_RETURNS

ROOT = Path(__file__).resolve().parent.parent


def test_the_small_benchmark_reports_every_figure(tmp_path):
    work = tmp_path / "bench"
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "bench", "--sizes", "small", "--repeat", "1",
                           "--work", str(work)], cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((work / "bench-small.json").read_text(encoding="utf-8"))
    for figure in ("full_build_s", "incremental_s", "sensor_tick_s", "validate_warm_s", "validate_cold_s",
                   "dashboard_worst_p95_ms", "snapshot_mb", "full_build_peak_mb", "incremental_peak_mb"):
        assert result[figure] > 0, figure
    assert result["machine"]["cores"] >= 1 and result["machine"]["cpu"]
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
    for log in ("full-small-0.log", "incremental-small-0.log"):
        assert "finished in" in (work / log).read_text(encoding="utf-8")
