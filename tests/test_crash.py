"""Faults survived (issue 16): a `tracker run` killed with SIGKILL at any point, then run again, gives the warehouse
one uninterrupted run gives.

One home gets a batch of inputs before each run (the illustrative samples, generated valid returns for other
organisations and quarters, one invalid return that must be quarantined, and Notify live documents as
tracker/feed_store.py keeps them) and each run but the last is killed at a random point (seeded; spread over the
baseline run's duration, some aimed at returns ingestion, the dbt build and publishing by watching the run's progress
lines). After every kill: the lock is free and the published snapshot (if any) is whole and is the manifest's
version. After a last uninterrupted run, every mart, staging, raw, audit, quarantine and meta table equals the
baseline home's (the same inputs, one run), each return was recorded exactly once and archived, and the inbox is
empty.

    TRACKER_CRASH_KILLS=20 TRACKER_CRASH_SPAN=whole python3 -m uv run pytest tests/test_crash.py
        # 20 kills over the whole run, dbt build and publishing included (CI runs 5 during ingestion)
    TRACKER_CRASH_SEED=1234 ...                  # replay a failure's kill points
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from pipelines.return_commands import deliver_samples
from tests.conftest import AS_OF, DATA, PROJECT
from tests.returns_helpers import csv_bytes, row
from tests.warehouse_compare import compare_warehouses, mart_models
from tracker import feed_store
from tracker.fetching import Fetched
from tracker.return_inbox import SIDECAR, content_hash, deliver, pending
from tracker.settings import MANIFEST_NAME, SNAPSHOT_NAME

KILLS = int(os.environ.get("TRACKER_CRASH_KILLS", "5"))
# Where the kills land: "ingestion" (CI's default: from the start to the end of returns ingestion, where the inputs
# are read, staged and archived) or "whole" (the whole run, some aimed at the dbt build and at publishing too).
SPAN = os.environ.get("TRACKER_CRASH_SPAN", "ingestion")
INGESTION_ENDS = "department_returns"  # the step after which the run only builds the marts and publishes
SEED = int(os.environ.get("TRACKER_CRASH_SEED") or random.SystemRandom().randrange(1_000_000))
SCHEMAS = ("marts", "staging", "raw", "audit", "quarantine", "meta")
RUN = [sys.executable, "-u", "-m", "pipelines.cli", "run", "--as-of", AS_OF]
# Organisations that send no sample return, each a GOV.UK organisation the contract accepts (schedule.yaml).
ORGANISATIONS = ("D1", "D2", "D1382", "D1383", "D6", "D1380", "D7", "D1381", "D9", "D12", "D1315", "D15", "D17",
                 "D1419", "D18", "D19", "D25", "EA570")
QUARTERS = ("2025-26 Q1", "2025-26 Q2", "2025-26 Q3")
RETURNS_PER_BATCH = 4
# Steps the kills are aimed at (by waiting for the progress line of the step the baseline ran before each).
AIMED = {"department_returns": "returns ingestion", "marts": "dbt build", "published_snapshot": "publishing"}
NOTIFY_DOCUMENT = PROJECT / "tests" / "feeds" / "notify_performance_constructed.json"


def say(message: str) -> str:
    return f"[TRACKER_CRASH_SEED={SEED}, TRACKER_CRASH_KILLS={KILLS}, TRACKER_CRASH_SPAN={SPAN}] {message}"


# ---------------------------------------------------------------- inputs, the same for both homes


def generated_return(number: int, batch: int) -> tuple[str, bytes]:
    """A valid return for an organisation with no sample; a later one for the same quarter corrects it.

    2025-26 Q3's returns window closes on the reporting date, and its closure is recorded once, by the first run
    that reaches it (assets/returns_windows.py), with the returns in by then: so returns for Q3 come only in the
    first batch, which every run takes before it closes the window, and later batches are for earlier quarters.
    """
    organisation = ORGANISATIONS[number % len(ORGANISATIONS)]
    quarters = QUARTERS if batch == 0 else QUARTERS[:-1]
    quarter = quarters[(number // len(ORGANISATIONS)) % len(quarters)]
    figures = row(organisation_code=organisation, reporting_quarter=quarter,
                  one_login_services_live=str(3 + number % 20), notify_services_live=str(20 + number % 25),
                  blockers_note=f"Generated for the crash test, return {number}.")
    return organisation, csv_bytes(figures)


def invalid_return() -> tuple[str, bytes]:
    """Pay live above Pay in scope: rejected, and its problem quarantined."""
    return "D2", csv_bytes(row(organisation_code="D2", reporting_quarter="2025-26 Q3", pay_services_live="99"))


def notify_document(batch: int) -> bytes:
    """Notify's performance page as a later fetch would bring it: the constructed document, its counts moved on."""
    doc = json.loads(NOTIFY_DOCUMENT.read_text(encoding="utf-8"))
    doc["live_service_count"] = doc.get("live_service_count", 0) + batch
    return json.dumps(doc).encode()


def deliver_batch(home: Path, batch: int) -> list[str]:
    """Put batch ``batch``'s inputs in the home (the first: the samples, an invalid return and a Notify document);
    returns the references of the returns delivered."""
    references = []
    if batch == 0:
        deliver_samples(home, DATA)
        references += [f.reference for f in pending(home)]
        organisation, content = invalid_return()
        references.append(deliver(home, content, "crash_invalid.csv", organisation, "tracker submit",
                                  now=dt.datetime(2026, 1, 31, 10, 15, tzinfo=dt.UTC)).reference)
    base = dt.datetime(2026, 1, 31, 10, 30, tzinfo=dt.UTC) + dt.timedelta(minutes=10 * batch)
    for index in range(RETURNS_PER_BATCH):
        number = batch * RETURNS_PER_BATCH + index
        organisation, content = generated_return(number, batch)
        references.append(deliver(home, content, f"crash_{number:03}.csv", organisation, "tracker submit",
                                  now=base + dt.timedelta(minutes=index)).reference)
    if batch % 3 == 0:  # a new Notify live document every third batch
        content = notify_document(batch)
        fetched_at = dt.datetime(2026, 1, 10, 9, 0) + dt.timedelta(hours=batch)
        feed_store.store(home, "notify", Fetched("https://www.notifications.service.gov.uk/performance.json",
                                                 content, content_hash(content), fetched_at, "application/json"),
                         fmt="json")
    return references


# ---------------------------------------------------------------- running and killing


@dataclass
class Run:
    lines: list[tuple[float, str]] = field(default_factory=list)  # (seconds since start, line)
    returncode: int | None = None
    killed_at: float | None = None  # seconds since start, when SIGKILL was sent
    seconds: float = 0.0
    pid: int = 0  # also its process group's id

    def steps(self) -> list[tuple[float, str]]:
        return [(t, line.split()[-1]) for t, line in self.lines if line.strip().startswith(("done ", "FAILED "))]

    def output(self) -> str:
        return "\n".join(line for _, line in self.lines)


def start(home: Path) -> tuple[subprocess.Popen, Run, threading.Thread, float]:
    # chunks of 3 returns: a run's returns are checked in the judge's own process while the chunk before is recorded,
    # and archived in a thread while the next is judged, as a large intake's are
    env = {**os.environ, "TRACKER_HOME": str(home), "TRACKER_RUN_WAIT_SECONDS": "30", "TRACKER_RETURNS_CHUNK": "3"}
    env.pop("DAGSTER_HOME", None)
    process = subprocess.Popen(RUN, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    run, started = Run(pid=process.pid), time.monotonic()

    def read() -> None:
        for line in process.stdout:
            run.lines.append((time.monotonic() - started, line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return process, run, reader, started


def finish(process: subprocess.Popen, run: Run, reader: threading.Thread, started: float) -> Run:
    run.returncode = process.wait(timeout=900)
    reader.join(timeout=30)
    run.seconds = time.monotonic() - started
    return run


def run_through(home: Path) -> Run:
    return finish(*start(home))


def run_and_kill(home: Path, kill: dict) -> Run:
    """Start a run and SIGKILL its process (only it, as the kernel's OOM killer or `kill -9` would) at the
    planned point: ``after`` seconds, or ``delay`` seconds after the progress line ``trigger``."""
    process, run, reader, started = start(home)
    deadline = started + kill["after"] if "after" in kill else None
    triggered_at = None
    while process.poll() is None:
        now = time.monotonic()
        if deadline is None and any(step == kill["trigger"] for _, step in run.steps()):
            triggered_at = triggered_at or now
            deadline = triggered_at + kill["delay"]
        if deadline is not None and now >= deadline:
            try:
                os.kill(process.pid, signal.SIGKILL)
                run.killed_at = now - started
            except ProcessLookupError:
                pass
            break
        time.sleep(0.01)
    finish(process, run, reader, started)
    if run.returncode != -signal.SIGKILL:
        run.killed_at = None  # it finished first
    return run


def leftovers(process_group: int) -> bool:
    try:
        os.killpg(process_group, 0)
        return True
    except ProcessLookupError:
        return False


def plan(rng: random.Random, count: int, baseline: Run) -> list[dict]:
    """Kill points: one aimed at each of returns ingestion, the dbt build and publishing (a random moment within
    the step, as long as the baseline took; with more kills, every third is aimed), the rest spread over
    [0.3 s, the baseline's duration] in equal strata, each at a random moment of its stratum. With the
    "ingestion" span, only up to the end of returns ingestion, and only that step is aimed at."""
    steps = baseline.steps()
    order = [step for _, step in steps]
    lasted = {step: t - (steps[i - 1][0] if i else 0.0) for i, (t, step) in enumerate(steps)}
    ends = baseline.seconds
    if SPAN == "ingestion":
        assert INGESTION_ENDS in order, say(f"the baseline run never reported {INGESTION_ENDS}")
        ends = dict((step, t) for t, step in steps)[INGESTION_ENDS]
    aimed_at = [s for s in AIMED if s in order and order.index(s) > 0
                and (SPAN == "whole" or order.index(s) <= order.index(INGESTION_ENDS))]
    aimed_count = min(count, max(len(aimed_at), count // 3)) if aimed_at else 0
    span = max(ends, 1.0) - 0.3
    spread = count - aimed_count
    kills = [{"after": 0.3 + span * (stratum + rng.random()) / spread} for stratum in range(spread)]
    for n in range(aimed_count):
        target = aimed_at[n % len(aimed_at)]
        kills.append({"trigger": order[order.index(target) - 1], "aim": target,
                      "delay": rng.random() * lasted[target] * 0.9})
    rng.shuffle(kills)
    return kills


def dagster_runs(home: Path) -> list[str]:
    """The ids of the runs in the home's Dagster instance, newest first."""
    import dagster as dg

    if not (home / "dagster" / "dagster.yaml").exists():
        return []
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        return [record.dagster_run.run_id for record in instance.get_run_records()]


def phase(home: Path, run: Run, runs_before: list[str]) -> str:
    """Where a kill landed, from the killed run's own event log: the step it had started and not finished."""
    import dagster as dg

    if run.killed_at is None:
        return "not killed: the run finished first"
    new = [r for r in dagster_runs(home) if r not in runs_before]
    if not new:
        return "startup (before its Dagster run began)"
    started, ended = [], set()
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        for record in instance.all_logs(new[0]):
            event = record.dagster_event
            if event is None or not event.step_key:
                continue
            if event.event_type_value == "STEP_START":
                started.append(event.step_key)
            elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
                ended.add(event.step_key)
    running = [step for step in started if step not in ended]
    if running:
        return f"{AIMED.get(running[-1], 'step')}: {running[-1]}"
    return f"between steps, after {started[-1]}" if started else "run started, no step yet"


# ---------------------------------------------------------------- what must hold after every kill


def lock_is_free(home: Path) -> bool:
    probe = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from tracker.run_lock "
                            "import acquire; acquire(Path(sys.argv[1]), wait=0)", str(home)], cwd=PROJECT,
                           capture_output=True, text=True, timeout=120)
    return probe.returncode == 0


def published_problem(home: Path) -> str | None:
    """None when the published snapshot is absent, or opens read-only, is whole (every table the manifest
    counts has its rows) and is the manifest's version; else what is wrong."""
    published = home / "published"
    snapshot, manifest_file = published / SNAPSHOT_NAME, published / MANIFEST_NAME
    if not snapshot.exists():
        return "a manifest with no snapshot" if manifest_file.exists() else None
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return f"the manifest cannot be read: {err}"
    try:
        con = duckdb.connect(str(snapshot), read_only=True)
    except duckdb.Error as err:
        return f"the snapshot does not open: {err}"
    try:
        [(version,)] = con.execute("SELECT version FROM meta.snapshot").fetchall()
        if version != manifest["version"]:
            return f"the snapshot is version {version}, the manifest says {manifest['version']}"
        for table, rows in manifest["tables"].items():
            found = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if found != rows:
                return f"{table} has {found} rows; the manifest counted {rows}"
    except duckdb.Error as err:
        return f"the snapshot cannot be read: {err}"
    finally:
        con.close()
    return None


# ---------------------------------------------------------------- the two homes


@pytest.fixture(scope="module")
def crashed(tmp_path_factory) -> dict:
    rng = random.Random(SEED)
    root = tmp_path_factory.mktemp("crash")
    baseline_home, home = root / "baseline", root / "crashed"
    batches = KILLS + 1  # one batch before each run, the last uninterrupted one included
    delivered = []
    for batch in range(batches):
        delivered += deliver_batch(baseline_home, batch)
    clock = time.monotonic()
    baseline = run_through(baseline_home)
    assert baseline.returncode == 0, say(f"the uninterrupted run failed:\n{baseline.output()}")

    kills, attempts, after_kill = [], 0, []
    for kill in plan(rng, KILLS, baseline):
        deliver_batch(home, len(kills))
        while True:  # a kill the run outran is drawn again, so every planned kill lands
            attempts += 1
            runs_before = dagster_runs(home)
            run = run_and_kill(home, kill)
            if run.killed_at is not None or attempts > 3 * KILLS:
                break
            kill = {"after": 0.3 + rng.random() * (min(kill.get("after", baseline.seconds), baseline.seconds) - 0.3)}
        after_kill.append({"lock free": lock_is_free(home), "published": published_problem(home),
                           "temporary files": sorted(p.name for p in (home / "published").glob(".*"))
                           if (home / "published").exists() else []})
        lingered = 0.0
        while leftovers(run.pid) and lingered < 60:  # a child (dbt) outliving the killed run: wait it out, and say
            time.sleep(0.5)
            lingered += 0.5
        kills.append({"plan": kill, "phase": phase(home, run, runs_before), "at": run.killed_at, "run": run,
                      "children lingered": lingered})
    deliver_batch(home, len(kills))
    final = run_through(home)
    seconds = time.monotonic() - clock
    summary = say(f"{len(kills)} kills in {seconds:.0f} s (baseline run {baseline.seconds:.0f} s, last run "
                  f"{final.seconds:.0f} s): " + "; ".join(described(k) for k in kills))
    print("\n" + summary)
    return {"baseline": baseline_home, "home": home, "baseline_run": baseline, "final": final, "kills": kills,
            "after_kill": after_kill, "delivered": delivered, "summary": summary}


def described(kill: dict) -> str:
    if kill["at"] is None:
        return kill["phase"]
    later = kill["children lingered"]
    lingered = f" (its child processes ended {later:.1f} s later)" if later else ""
    return f"{kill['at']:.1f} s {kill['phase']}{lingered}"


def query(home: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------- the tests


def test_every_planned_kill_landed_and_the_last_run_succeeded(crashed):
    kills = crashed["kills"]
    assert len(kills) == KILLS and all(k["at"] is not None for k in kills), crashed["summary"]
    assert crashed["final"].returncode == 0, say(f"the run after the kills failed:\n{crashed['final'].output()}")


def test_after_every_kill_the_lock_is_free_and_the_snapshot_whole(crashed):
    for number, (kill, state) in enumerate(zip(crashed["kills"], crashed["after_kill"], strict=True), 1):
        where = f"after kill {number} ({kill['phase']}, {kill['at']} s)"
        assert state["lock free"], say(f"{where}: TRACKER_HOME/run.lock is still held")
        assert state["published"] is None, say(f"{where}: {state['published']}")


def test_the_warehouse_equals_one_uninterrupted_run(crashed):
    comparison = compare_warehouses(crashed["home"] / "warehouse.duckdb", crashed["baseline"] / "warehouse.duckdb",
                                    schemas=SCHEMAS, required=("marts",))
    assert set(mart_models()) <= set(comparison.compared), say("a mart was not compared on its key")
    assert {"audit.return_submissions", "raw.return_files", "raw.notify_live_files"} <= set(comparison.compared)
    assert "quarantine.return_problems" in comparison.compared_whole  # no key: compared row for row, as a multiset
    assert comparison.equal, say(crashed["summary"] + "\n" + comparison.report())


def test_every_raw_file_listed_has_its_bytes_kept_whole(crashed):
    """The raw store writes a file's bytes before the row that lists them: a kill between the two leaves at most
    bytes no row names yet (the next run lists them), never a row without its bytes."""
    import hashlib

    home = crashed["home"]
    tables = [t for (t,) in query(home, "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' "
                                        "AND ends_with(table_name, '_files') AND table_name <> 'return_files'")]
    rows = [(table.removesuffix("_files"), *row) for table in tables
            for row in query(home, f"SELECT file_name, sha256 FROM raw.{table}")]
    assert rows, say("no raw file was listed")
    for source, name, sha256 in rows:
        kept = home / "raw" / source / sha256
        assert kept.is_file(), say(f"{source} file {name}: listed in raw.{source}_files, its bytes not kept")
        assert hashlib.sha256(kept.read_bytes()).hexdigest() == sha256, say(f"{source} file {name}: bytes differ")


def test_each_return_recorded_once_archived_once_and_the_inbox_empty(crashed):
    home, delivered = crashed["home"], crashed["delivered"]
    audit = query(home, "SELECT submission_ref, status, archived_as FROM audit.return_submissions")
    assert sorted(r for r, _, _ in audit) == sorted(delivered), say("returns lost or recorded more than once")
    in_force = query(home, "SELECT submission_ref, count(*) FROM staging.accepted_returns GROUP BY ALL "
                           "HAVING count(*) > 1")
    assert in_force == [], say("a return accepted more than once")
    for reference, status, archived_as in audit:
        assert archived_as and (home / archived_as).is_file() and (home / (archived_as + SIDECAR)).is_file(), \
            say(f"{reference} ({status}) is recorded but its archived file is {archived_as!r}")
    archived = [p for p in (home / "returns" / "archive").rglob("*") if p.is_file() and not p.name.endswith(SIDECAR)]
    assert len(archived) == len(delivered), say(f"{len(archived)} files archived for {len(delivered)} returns: "
                                                f"{sorted(p.name for p in archived)}")
    left = [str(p.relative_to(home)) for p in (home / "returns" / "inbox").rglob("*") if not p.is_dir()]
    assert left == [], say(f"left in the inbox: {left}")
    [(rejected, problems)] = query(home, "SELECT count(*), sum(problem_count) FROM audit.return_submissions "
                                         "WHERE file_name = 'crash_invalid.csv' AND status = 'rejected'")
    assert rejected == 1 and problems >= 1
    quarantined = query(home, "SELECT count(*) FROM quarantine.return_problems q JOIN audit.return_submissions s "
                              "USING (submission_ref) WHERE s.file_name = 'crash_invalid.csv'")
    assert quarantined == [(problems,)], say("the invalid return's problems were not quarantined exactly once")


def test_every_accepted_return_was_checked_by_great_expectations(crashed):
    """gx_result is left out of the comparison (it names the run's reporting date), so what it found is compared
    here: a return recorded by a killed run is still validated by Great Expectations in a later one."""
    outcome = ("SELECT submission_ref, gx_result->>'evaluated', gx_result->>'passed', gx_result->>'failed' "
               "FROM audit.return_submissions WHERE status IN ('accepted', 'accepted with warnings') ORDER BY ALL")
    found, expected = query(crashed["home"], outcome), query(crashed["baseline"], outcome)
    assert all(r[1] is not None for r in expected)
    assert found == expected, say("Great Expectations' results differ: " + str(
        [r for r in found if r not in expected][:5]))


def test_only_the_snapshot_and_its_manifest_are_left_published(crashed):
    published = sorted(p.name for p in (crashed["home"] / "published").iterdir())
    assert published == [MANIFEST_NAME, SNAPSHOT_NAME], say(f"left in published/: {published}")
    assert published_problem(crashed["home"]) is None


def test_no_dagster_run_is_left_marked_running(crashed):
    """Depends on the sweep that marks runs whose process is gone as failed (tracker/resources.py, issue 16)."""
    import dagster as dg

    dagster_home = crashed["home"] / "dagster"
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        running = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED,
                                                                    dg.DagsterRunStatus.STARTING]))
    assert [r.dagster_run.run_id for r in running] == [], say("runs killed but still marked as running")
