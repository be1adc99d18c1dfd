"""``tracker bench``: the tracker measured on GENERATED data at each size (issue 17), not part of the test run.

For each size it generates the data once (``bench/generate.py``, kept in the work folder by size and seed), then,
each time the median of ``--repeat`` runs (a peak memory the highest of them):

- the full build from nothing to a published snapshot (``tracker run`` in a fresh home): wall time, and the
  peak resident memory and CPU time of the process and its children (each command started by
  ``bench/spawner.py``);
- an incremental update on top of that history: one new weekly Pay snapshot and 100 new returns, held back
  from the full build and added before a second ``tracker run``;
- the returns sensor's tick with the history processed (its cursor full) and 100 new files in the inbox;
- validating one return, warm in a process and as ``tracker validate`` from a cold start;
- every dashboard query function on the published snapshot, uncached: p50 and p95, and the snapshot's size;
- the tracker's marts built by the same dbt project on DuckDB and on PostgreSQL from the full build's warehouse
  (``bench/postgres_marts.py``; null, and the report says n/a, when PostgreSQL is not installed).

The machine (CPU, cores, memory, load at the start, versions) is recorded beside the figures in
``<work>/bench-<size>.json``. Every run's output is kept in the work folder for a failed run to be read.

    python3 -m uv run tracker bench --sizes small medium --repeat 3
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261203
NEW_RETURNS = 100
WORK = Path(os.environ.get("TMPDIR", "/tmp")) / "tracker-bench"


@dataclass
class Prepared:
    """A generated size, split into the history (the full build) and what arrives after it (the increment)."""

    size: str
    generated: Path
    history: Path  # a data folder of links to the generated files, less the newest Pay snapshot
    history_inbox: Path  # links to the history's return files and sidecars, as they were delivered
    newest_snapshot: Path
    inbox: list[Path]  # the history's return files and sidecars, relative to the generated inbox
    new_returns: list[Path]  # the NEW_RETURNS newest returns, and their sidecars
    as_of: str
    environment: dict = field(default_factory=dict)


def machine() -> dict:
    """What the figures were measured on."""
    import duckdb
    import pandas

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal"))
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(memory_kb / 2**20, 1),
            "load_average_at_start": os.getloadavg(), "os": platform.platform(), "python": platform.python_version(),
            "duckdb": duckdb.__version__, "pandas": pandas.__version__,
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


def _link_tree(source: Path, target: Path, leave_out: set[Path]) -> None:
    """``target`` mirrors ``source`` with a symbolic link per file: a data folder costs nothing to make."""
    for path in sorted(source.rglob("*")):
        if path.is_dir() or path in leave_out or path.relative_to(source).parts[0] == "inbox":
            continue
        link = target / path.relative_to(source)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path)


def prepare(size: str, seed: int, work: Path, spec=None) -> Prepared:
    """Generate the size once (reused while the generator's manifest says the same size and seed).

    ``spec``: a ``bench.generate.ScaleSpec`` for a size that is not one of the named ones, ``size`` its label."""
    from bench.generate import MANIFEST, generate

    generated = work / f"data-{size}-{seed}"
    manifest_file = generated / MANIFEST
    if not manifest_file.exists():
        shutil.rmtree(generated, ignore_errors=True)
        print(f"generating the {size} size (seed {seed}) in {generated} ...", flush=True)
        generate(generated, spec or size, seed)
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    snapshots = sorted((generated / "pay" / "snapshots").glob("*.json"))
    history = work / f"history-{size}-{seed}"
    shutil.rmtree(history, ignore_errors=True)
    _link_tree(generated, history, {snapshots[-1]})
    inbox = generated / "inbox"
    returns = sorted((p.relative_to(inbox) for p in inbox.rglob("*") if p.is_file() and p.suffix != ".json"),
                     key=lambda p: p.name)  # stored names start with when they arrived
    newest = returns[-NEW_RETURNS:]
    sidecar = {p: p.with_name(p.name + ".json") for p in returns}
    new = [q for p in newest for q in (p, sidecar[p])]
    kept = [q for p in returns[:-NEW_RETURNS] for q in (p, sidecar[p])]
    history_inbox = work / f"history-inbox-{size}-{seed}"
    shutil.rmtree(history_inbox, ignore_errors=True)
    for relative in kept:
        (history_inbox / relative).parent.mkdir(parents=True, exist_ok=True)
        (history_inbox / relative).symlink_to(inbox / relative)
    environment = manifest["environment"]
    return Prepared(size, generated, history, history_inbox, snapshots[-1], kept, new, environment["TRACKER_AS_OF"],
                    {"TRACKER_AS_OF_NOTE": environment["TRACKER_AS_OF_NOTE"]})


def _copy_returns(prepared: Prepared, files: list[Path], home: Path) -> None:
    """The returns into the inbox as ``deliver`` leaves them there: on disk, since it flushes each file before its
    rename. Without the flush, the run timed next would be charged for writing out copies made a moment before."""
    for relative in files:
        target = home / "returns" / "inbox" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(prepared.generated / "inbox" / relative, target)
    os.sync()


@dataclass
class Measured:
    seconds: float
    peak_mb: float
    returncode: int
    cpu_seconds: float = 0.0  # user and system time of the process and every child it waited for
    held: dict = field(default_factory=dict)  # what the warehouse held after it: Pay snapshots, returns received


def _held(home: Path) -> dict:
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return {"pay_snapshots": con.execute("SELECT count(*) FROM staging.pay_snapshots").fetchone()[0],
                "returns_received": con.execute("SELECT count(*) FROM marts.return_submissions").fetchone()[0]}


def measured_process(command: list[str], env: dict, log: Path) -> Measured:
    """Wall time, peak resident memory and CPU time (the process and any child it waited for) of one command,
    started by the bench's spawner (``bench/spawner.py``) so that the bench's own memory is not counted as its."""
    spawner = _spawner()
    spawner.stdin.write(json.dumps({"command": command, "env": dict(env), "log": str(log), "cwd": str(ROOT)}) + "\n")
    spawner.stdin.flush()
    answer = spawner.stdout.readline()
    if not answer:
        raise RuntimeError(f"the bench's spawner stopped (exit {spawner.wait()}) while running {command}")
    return Measured(**json.loads(answer))


_spawners: list[subprocess.Popen] = []


def _spawner() -> subprocess.Popen:
    """The one spawner of this process, started when first needed (again if it has stopped)."""
    if not _spawners or _spawners[0].poll() is not None:
        _spawners[:] = [subprocess.Popen([sys.executable, "-m", "bench.spawner"], cwd=ROOT, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True)]
        atexit.register(_stop, _spawners[0])
    return _spawners[0]


def _stop(spawner: subprocess.Popen) -> None:
    """Its input closed, the spawner ends; waited for, so that it is not left behind."""
    spawner.stdin.close()
    try:
        spawner.wait(timeout=10)
    except subprocess.TimeoutExpired:
        spawner.kill()
        spawner.wait()


def _env(prepared: Prepared, home: Path, data: Path) -> dict:
    return os.environ | prepared.environment | {"TRACKER_DATA_DIR": str(data), "TRACKER_HOME": str(home),
                                                "TRACKER_AS_OF": prepared.as_of}


def full_build(prepared: Prepared, work: Path, label: str) -> tuple[Measured, Path]:
    """``tracker run`` on the history in a fresh home with the history's returns in its inbox."""
    home = work / f"home-{label}"
    shutil.rmtree(home, ignore_errors=True)
    _copy_returns(prepared, prepared.inbox, home)
    return _tracker_run(prepared, home, work / f"full-{label}.log"), home


def _tracker_run(prepared: Prepared, home: Path, log: Path) -> Measured:
    run = measured_process([sys.executable, "-m", "pipelines.cli", "run", "--as-of", prepared.as_of],
                           _env(prepared, home, prepared.history), log)
    run.held = _held(home) if run.returncode == 0 else {}
    return run


def build_and_update(prepared: Prepared, work: Path, round_: int) -> tuple[Measured, Measured, Path]:
    """One full build of the history in a fresh home, then the increment on top of it."""
    full, home = full_build(prepared, work, f"{prepared.size}-{round_}")
    (prepared.history / "pay" / "snapshots" / prepared.newest_snapshot.name).symlink_to(prepared.newest_snapshot)
    try:
        _copy_returns(prepared, prepared.new_returns, home)
        update = _tracker_run(prepared, home, work / f"incremental-{prepared.size}-{round_}.log")
    finally:
        (prepared.history / "pay" / "snapshots" / prepared.newest_snapshot.name).unlink()
    return full, update, home


def _succeeded(measured: Measured, what: str, log: str) -> Measured:
    """The measured run, or the error that says which failed and where its log is: no figure of a failed run."""
    if measured.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {measured.returncode}); see {log}")
    return measured


def build_without_returns(prepared: Prepared, work: Path, label: str) -> Measured:
    """``tracker run`` on the history in a fresh home with nothing in its inbox: the same build less the returns'
    intake, checks and marts, so that what the returns cost, and what the platforms' sources alone cost, are each
    a figure of the bench."""
    home = work / f"home-{label}"
    shutil.rmtree(home, ignore_errors=True)
    (home / "returns" / "inbox").mkdir(parents=True)
    try:
        return _tracker_run(prepared, home, work / f"full-{label}.log")
    finally:
        shutil.rmtree(home, ignore_errors=True)  # nothing else reads it: a national home is some 300 MB


def full_rebuild(prepared: Prepared, work: Path, label: str) -> tuple[Measured, Path]:
    """``tracker run`` in a fresh home on everything the incremental update ends with (the history, the newest
    snapshot and every return): what the update must leave the warehouse equal to."""
    home = work / f"home-{label}"
    shutil.rmtree(home, ignore_errors=True)
    _copy_returns(prepared, [*prepared.inbox, *prepared.new_returns], home)
    (prepared.history / "pay" / "snapshots" / prepared.newest_snapshot.name).symlink_to(prepared.newest_snapshot)
    try:
        return _tracker_run(prepared, home, work / f"full-{label}.log"), home
    finally:
        (prepared.history / "pay" / "snapshots" / prepared.newest_snapshot.name).unlink()


def sensor_tick(prepared: Prepared, home: Path, rounds: int) -> list[float]:
    """The returns sensor's tick with every earlier arrival in its cursor and NEW_RETURNS files in the inbox."""
    _copy_returns(prepared, prepared.new_returns, home)
    code = f"""
import json, time
import dagster as dg
from pipelines.sensors import REMEMBERED_ARRIVALS, return_inbox_sensor
from tracker.resources import TrackerConfig
settings = TrackerConfig(data_dir={str(prepared.history)!r}, home_dir={str(home)!r}, as_of={prepared.as_of!r})
cursor = json.dumps({{"requested": [f"earlier-arrival-{{i}}" for i in range(REMEMBERED_ARRIVALS)]}})
times = []
for _ in range({rounds}):
    context = dg.build_sensor_context(cursor=cursor, resources={{"settings": settings}})
    started = time.perf_counter()
    result = return_inbox_sensor(context)
    times.append(time.perf_counter() - started)
    assert len(result.run_config["ops"]["department_returns"]["config"]["files"]) == {NEW_RETURNS}, result
print(json.dumps(times))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(prepared, home, prepared.history),
                          capture_output=True, text=True, check=True)
    shutil.rmtree(home / "returns" / "inbox")
    return json.loads(done.stdout.strip().splitlines()[-1])


def validation(prepared: Prepared, home: Path, rounds: int, work: Path) -> tuple[list[float], list[float]]:
    """One return validated: warm in a process (many times), and ``tracker validate`` from a cold start."""
    sample = prepared.generated / "inbox" / prepared.new_returns[0]
    organisation = prepared.new_returns[0].parts[0]
    code = f"""
import datetime as dt, json, time
from pathlib import Path
from checks.return_validation import validate_return
from pipelines.return_commands import known_organisations
content = Path({str(sample)!r}).read_bytes()
known = known_organisations()
validate_return(content, {sample.name!r}, known, dt.date.fromisoformat({prepared.as_of!r}), submitter={organisation!r})
times = []
for _ in range({max(rounds, 20)}):
    started = time.perf_counter()
    validate_return(content, {sample.name!r}, known, dt.date.fromisoformat({prepared.as_of!r}),
                    submitter={organisation!r})
    times.append(time.perf_counter() - started)
print(json.dumps(times))
"""
    env = _env(prepared, home, prepared.history)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True)
    warm = json.loads(done.stdout.strip().splitlines()[-1])
    cold = [measured_process([sys.executable, "-m", "pipelines.cli", "validate", str(sample), "--organisation",
                              organisation], env, work / f"validate-{prepared.size}.log").seconds
            for _ in range(rounds)]
    return warm, cold


def dashboard_queries(prepared: Prepared, home: Path, rounds: int) -> dict:
    """Each dashboard query function, its cache cleared before every call: p50 and p95 in milliseconds."""
    code = f"""
import inspect, json, os, statistics, time, warnings
warnings.filterwarnings("ignore")
os.environ["STREAMLIT_LOGGER_LEVEL"] = "error"
from dashboard import snapshot
import duckdb
with duckdb.connect(str(snapshot.snapshot_path()), read_only=True) as con:
    department = con.execute("SELECT department_code FROM marts.department_league ORDER BY 1 LIMIT 1").fetchone()[0]
    organisation = con.execute("SELECT organisation_code FROM marts.returns_status ORDER BY 1 LIMIT 1").fetchone()[0]
    name = con.execute("SELECT name FROM staging.organisations WHERE organisation_code = ?", [department]).fetchone()
ARGUMENTS = {{"platform": "GOV.UK Pay", "measure": "live services", "department_code": department,
             "department_name": name[0] if name else department, "metric": "pay_live_services",
             "table": "marts.sources", "organisation_code": organisation, "scope": ("*",), "latest": 20,
             "leave_out_metric": None}}
SKIP = {{"published_dir", "snapshot_path", "snapshot_info", "manifest_path"}}
results = {{}}
for name, function in inspect.getmembers(snapshot, inspect.isfunction):
    if function.__module__ != snapshot.__name__ or name.startswith("_") or name in SKIP:
        continue
    arguments = {{p: ARGUMENTS[p] for p in inspect.signature(function).parameters if p in ARGUMENTS}}
    times = []
    for _ in range({rounds}):
        snapshot._cached_query.clear()
        started = time.perf_counter()
        function(**arguments)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    results[name] = {{"p50_ms": statistics.median(times), "p95_ms": times[min(len(times) - 1, int(0.95 * len(times)))]}}
print(json.dumps(results))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(prepared, home, prepared.history),
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the dashboard queries failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def bench_size(size: str, seed: int, repeat: int, work: Path, cores: int) -> dict:
    """Every figure at one size; ``cores``: the machine's, as ``machine()`` records them."""
    from bench.side_by_side import side_by_side

    prepared = prepare(size, seed, work)
    builds, alternatives, without_returns = [], [], []
    for round_ in range(repeat):
        full, update, home = build_and_update(prepared, work, round_)
        for what, m in (("full build", full), ("incremental update", update)):
            _succeeded(m, f"{size}: the {what}", f"the logs in {work}")
        builds.append((full, update))
        # The alternatives straight after each round's build, so that a ratio is of two figures of the same
        # minutes: the machine is shared, and the same build's CPU time moved by a third within an hour.
        alternatives.append(side_by_side(prepared.history, prepared.history_inbox))
        if alternatives[-1]["disagreements"]:  # each round's own, as each is now timed apart
            raise RuntimeError(f"{size}: the DuckDB script and pandas disagree: {alternatives[-1]['disagreements']}")
        without_returns.append(_succeeded(build_without_returns(prepared, work, f"{size}-{round_}-without-returns"),
                                          f"{size}: the build without returns", f"the logs in {work}"))
        print(f"{size} round {round_ + 1}: full build {full.seconds:.1f} s ({full.peak_mb:.0f} MB, "
              f"{full.cpu_seconds:.1f} CPU s), incremental {update.seconds:.1f} s ({update.peak_mb:.0f} MB, "
              f"{update.cpu_seconds:.1f} CPU s); DuckDB script {alternatives[-1]['duckdb_script_s']:.1f} s, "
              f"pandas {alternatives[-1]['pandas_s']:.1f} s; without returns {without_returns[-1].seconds:.1f} s",
              flush=True)
    from bench.postgres_marts import measure as marts_on_postgres

    # the last round's warehouse is only read: dbt builds in copies, so the figures below measure the same home
    engines = marts_on_postgres(home / "warehouse.duckdb", repeat, work / f"postgres-marts-{size}")
    print(f"{size}: {_engines_line(engines)}", flush=True)
    ticks = sensor_tick(prepared, home, max(repeat, 5))
    warm, cold = validation(prepared, home, repeat, work)
    queries = dashboard_queries(prepared, home, max(repeat, 20))
    script_s = _median([a["duckdb_script_s"] for a in alternatives])
    pandas_s = _median([a["pandas_s"] for a in alternatives])
    # each round's build over the script and pandas run straight after it; and its CPU time shared perfectly over
    # every core, over the same: the least ratio that build could have reached, however well its steps overlapped
    paired = [(f, a) for (f, _), a in zip(builds, alternatives, strict=True)]
    over_script, over_pandas = ([f.seconds / a[alt] for f, a in paired] for alt in ("duckdb_script_s", "pandas_s"))
    floor_script, floor_pandas = ([f.cpu_seconds / cores / a[alt] for f, a in paired]
                                  for alt in ("duckdb_script_s", "pandas_s"))
    manifest = json.loads((prepared.generated / "generated.json").read_text(encoding="utf-8"))
    result = {
        "size": size, "seed": seed, "repeat": repeat, "generated": manifest["counts"],
        "full_build_s": _median([f.seconds for f, _ in builds]),
        "full_build_peak_mb": round(max(f.peak_mb for f, _ in builds)),
        "incremental_s": _median([u.seconds for _, u in builds]),
        "incremental_peak_mb": round(max(u.peak_mb for _, u in builds)),
        # CPU time against wall time: how much of the machine a run used, and so what overlap alone could gain
        "full_build_cpu_s": _median([f.cpu_seconds for f, _ in builds]),
        "full_build_cores": round(statistics.median(f.cpu_seconds / f.seconds for f, _ in builds), 2),
        "incremental_cpu_s": _median([u.cpu_seconds for _, u in builds]),
        # the same full build with an empty inbox: the platforms' sources alone, and by difference the returns
        "full_build_without_returns_s": _median([w.seconds for w in without_returns]),
        "full_build_without_returns_cpu_s": _median([w.cpu_seconds for w in without_returns]),
        "each_full_build_without_returns_s": [round(w.seconds, 2) for w in without_returns],
        "without_returns_held": without_returns[0].held,
        "duckdb_script_cpu_s": _median([a["duckdb_script_cpu_s"] for a in alternatives]),
        "pandas_cpu_s": _median([a["pandas_cpu_s"] for a in alternatives]),
        "each_full_build_s": [round(f.seconds, 2) for f, _ in builds],
        "each_incremental_s": [round(u.seconds, 2) for _, u in builds],
        "history_held": builds[0][0].held,
        "after_update_held": builds[0][1].held,
        "sensor_tick_s": _median(ticks),
        "validate_warm_s": round(statistics.median(warm), 4),
        "validate_cold_s": _median(cold),
        "dashboard_queries": queries,
        "dashboard_worst_p95_ms": round(max(q["p95_ms"] for q in queries.values()), 1),
        "duckdb_script_s": script_s,
        "pandas_s": pandas_s,
        "each_full_build_over_duckdb_script": [round(r, 2) for r in over_script],
        "each_full_build_over_pandas": [round(r, 2) for r in over_pandas],
        "full_build_over_duckdb_script": round(statistics.median(over_script), 1),
        "pandas_over_duckdb_script": round(pandas_s / script_s, 1),
        "each_full_build_cpu_floor_over_duckdb_script": [round(r, 2) for r in floor_script],
        "full_build_cpu_floor_over_duckdb_script": round(statistics.median(floor_script), 2),
        "full_build_cpu_floor_over_pandas": round(statistics.median(floor_pandas), 2),
        "side_by_side_rows": alternatives[0]["rows"],
        "snapshot_mb": round((home / "published" / "tracker.duckdb").stat().st_size / 2**20, 1),
    } | engines
    return result


# How cost grows: organisations at a fixed history, and history at fixed organisations; few returns, so Pay and
# the register are what grows.
SCALING = {"organisations": [(400, 52), (4_000, 52), (40_000, 52)], "weeks": [(4_000, 26), (4_000, 104), (4_000, 520)]}


def scaling(seed: int, repeat: int, work: Path) -> dict:
    """One full build and both alternatives at each point of each axis: the figures behind the log-log plot."""
    from bench.generate import spec_for
    from bench.side_by_side import side_by_side

    points = {}
    for sizes in SCALING.values():
        for organisations, weeks in sizes:
            label = f"{organisations}x{weeks}"
            if label in points:
                continue
            spec = spec_for("small", organisations=organisations, weeks=weeks)
            prepared = prepare(label, seed, work, spec)
            builds = []
            for round_ in range(repeat):
                build, _home = full_build(prepared, work, f"{label}-{round_}")
                builds.append(_succeeded(build, f"{label}: the full build", str(work / f"full-{label}-{round_}.log")))
            alternatives = [side_by_side(prepared.history, prepared.history_inbox) for _ in range(repeat)]
            points[label] = {"organisations": organisations, "weeks": weeks,
                             "organisation_weeks": json.loads((prepared.generated / "generated.json").read_text(
                                 encoding="utf-8"))["counts"]["organisation_weeks"],
                             "full_build_s": _median([b.seconds for b in builds]),
                             "full_build_peak_mb": round(max(b.peak_mb for b in builds)),
                             "duckdb_script_s": _median([a["duckdb_script_s"] for a in alternatives]),
                             "pandas_s": _median([a["pandas_s"] for a in alternatives])}
            print(f"scaling {label}: {points[label]}", flush=True)
    return {"axes": {axis: [f"{o}x{w}" for o, w in sizes] for axis, sizes in SCALING.items()}, "points": points,
            "repeat": repeat}


def seconds_label(repeat: int | None) -> str:
    """What each point of the plot is: one run's time, or the median of several (unknown for older results)."""
    if repeat is None:
        return "seconds"
    return "seconds (one run)" if repeat == 1 else f"seconds (median of {repeat} runs)"


def plot(result: dict, image: Path) -> None:
    """The log-log plot of how each way's cost grows along each axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, (axis, labels) in zip(axes, result["axes"].items(), strict=True):
        points = [result["points"][label] for label in labels]
        x = [p[axis] for p in points]
        for key, name, style in (("full_build_s", "tracker run (full build)", "o-"),
                                 ("pandas_s", "pandas", "s--"), ("duckdb_script_s", "one DuckDB script", "^:")):
            ax.plot(x, [p[key] for p in points], style, label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(x, [f"{v:,}" for v in x])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        fixed = "52 weeks" if axis == "organisations" else "4,000 organisations"
        ax.set_xlabel(f"{axis} (at {fixed})")
        ax.set_ylabel(seconds_label(result.get("repeat")))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    figure.suptitle("Cost of a full build as organisations and history grow (GENERATED data, log-log)")
    figure.tight_layout()
    figure.savefig(image, dpi=110)


def _engines_line(result: dict) -> str:
    if not result["postgres_installed"]:
        from bench.postgres_server import NOT_INSTALLED

        return f"marts on PostgreSQL n/a ({NOT_INSTALLED})"
    return (f"dbt build DuckDB {result['dbt_build_duckdb_s']} s, PostgreSQL {result['dbt_build_postgres_s']} s "
            f"({result['postgres_over_duckdb']}x, copy {result['copy_to_postgres_s']} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tracker bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["small"], choices=["small", "medium", "national"])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; each figure is their median")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--work", type=Path, default=WORK,
                        help=f"where data, homes and logs go (default $TMPDIR/tracker-bench: {WORK})")
    parser.add_argument("--scaling", action="store_true",
                        help="instead: full builds along each axis (organisations, weeks) and the log-log plot")
    parser.add_argument("--plot", type=Path, default=ROOT / "BENCHMARKS-scaling.png",
                        help="where --scaling's plot goes (default: beside BENCHMARKS.md)")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    described = machine()
    print(f"on {described['cpu']}, {described['cores']} cores, {described['memory_gib']} GiB; "
          f"load {described['load_average_at_start']}", flush=True)
    if args.scaling:
        result = scaling(args.seed, args.repeat, args.work) | {"machine": described}
        (args.work / "bench-scaling.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        plot(result, args.plot)
        print(f"scaling: {args.work / 'bench-scaling.json'}, plot {args.plot}", flush=True)
        return 0
    for size in args.sizes:
        started = time.perf_counter()
        result = bench_size(size, args.seed, args.repeat, args.work, described["cores"]) | {"machine": described}
        result["bench_minutes"] = round((time.perf_counter() - started) / 60, 1)
        out = args.work / f"bench-{size}.json"
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"{size}: full build {result['full_build_s']} s, peak {result['full_build_peak_mb']} MB; "
              f"incremental {result['incremental_s']} s; sensor tick {result['sensor_tick_s']} s; "
              f"validate warm {result['validate_warm_s']} s, cold {result['validate_cold_s']} s; "
              f"dashboard worst p95 {result['dashboard_worst_p95_ms']} ms; "
              f"DuckDB script {result['duckdb_script_s']} s, pandas {result['pandas_s']} s "
              f"(full build {result['full_build_over_duckdb_script']}x the script); "
              f"{_engines_line(result)}; "
              f"snapshot {result['snapshot_mb']} MB ({result['bench_minutes']} min) -> {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
