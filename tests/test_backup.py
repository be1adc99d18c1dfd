"""Backups restore to the same marts; a damaged backup or an occupied home is refused before anything is written."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile

import duckdb
import pytest

from tests.conftest import PROJECT
from tests.warehouse_compare import compare_warehouses
from tracker.backup import MANIFEST, BackupError, backup, restore

SCHEMAS = ("raw", "staging", "marts", "audit", "quarantine", "meta")


@pytest.fixture()
def home(built, tmp_path):
    """A private copy of the built home (warehouse, snapshot, returns), with a Dagster SQLite history beside it."""
    copy = tmp_path / "home"
    shutil.copytree(built["home"], copy, ignore=shutil.ignore_patterns("run.lock"))
    (copy / "dagster" / "history").mkdir(parents=True)
    with sqlite3.connect(copy / "dagster" / "history" / "runs.db") as history:
        history.execute("CREATE TABLE runs (run_id TEXT, status TEXT)")
        history.executemany("INSERT INTO runs VALUES (?, ?)", [("a1", "SUCCESS"), ("b2", "FAILURE")])
    (copy / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (copy / "dbt").mkdir(exist_ok=True)
    (copy / "dbt" / "compiled.sql").write_text("select 1")
    (copy / "published" / ".tracker.duckdb.20260101T000000Z.tmp.wal").write_bytes(b"left by a killed publication")
    (copy / "receipts").mkdir(exist_ok=True)
    (copy / "receipts" / ".abc.tmp").write_bytes(b"a write in progress")
    (copy / "returns" / "inbox" / "D1").mkdir(parents=True, exist_ok=True)
    (copy / "returns" / "inbox" / "D1" / "figures.tmp.csv").write_bytes(b"a return whose name has .tmp in it")
    return copy


def test_a_restored_backup_has_the_same_marts_and_every_file(home, tmp_path):
    made = backup(tmp_path / "backups", home)
    assert made.path.name.startswith("tracker-backup-") and made.path.suffix == ".gz"
    restored = restore(made.path, tmp_path / "restored").path

    comparison = compare_warehouses(home / "warehouse.duckdb", restored / "warehouse.duckdb", SCHEMAS)
    assert comparison.equal and comparison.compared, comparison.report()
    assert any(name.startswith("marts.") for name in comparison.compared)
    kept = {path.relative_to(home).as_posix() for path in home.rglob("*") if path.is_file()}
    back = {path.relative_to(restored).as_posix() for path in restored.rglob("*") if path.is_file()}
    assert back == {name for name in kept if not name.startswith("dbt/")} - {
        "dagster/dagster.yaml", "run.lock", "published/.tracker.duckdb.20260101T000000Z.tmp.wal", "receipts/.abc.tmp"}
    assert "returns/inbox/D1/figures.tmp.csv" in back
    assert any(name.startswith("returns/archive/") for name in back) and "published/tracker.duckdb" in back
    for name in back - {"dagster/history/runs.db"}:
        assert (restored / name).read_bytes() == (home / name).read_bytes(), name
    with sqlite3.connect(restored / "dagster" / "history" / "runs.db") as history:
        rows = history.execute("SELECT * FROM runs ORDER BY run_id").fetchall()
    assert rows == [("a1", "SUCCESS"), ("b2", "FAILURE")]
    with duckdb.connect(str(restored / "published" / "tracker.duckdb"), read_only=True) as snapshot:
        assert snapshot.execute("SELECT count(*) FROM marts.metric_series").fetchall()[0][0] > 0

    env = {**os.environ, "TRACKER_HOME": str(restored)}
    status = subprocess.run([sys.executable, "-m", "pipelines.cli", "status"], cwd=PROJECT, env=env,
                            capture_output=True, text=True, timeout=120)
    manifest = json.loads((home / "published" / "manifest.json").read_text())
    assert status.returncode == 0 and f"Published snapshot {manifest['version']}" in status.stdout, status.stdout


def test_the_command_line_backs_up_and_restores_in_plain_sentences(home, tmp_path):
    env = {**os.environ, "TRACKER_HOME": str(home)}
    made = subprocess.run([sys.executable, "-m", "pipelines.cli", "backup", "--to", str(tmp_path / "b")], cwd=PROJECT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0 and "Wrote " in made.stdout, made.stdout + made.stderr
    file = next((tmp_path / "b").glob("tracker-backup-*.tar.gz"))
    occupied = subprocess.run([sys.executable, "-m", "pipelines.cli", "restore", str(file)], cwd=PROJECT, env=env,
                              capture_output=True, text=True, timeout=300)  # TRACKER_HOME is the live home
    assert occupied.returncode == 1 and "is not empty" in occupied.stderr and "Traceback" not in occupied.stderr
    fresh = subprocess.run([sys.executable, "-m", "pipelines.cli", "restore", str(file), "--into",
                            str(tmp_path / "new")], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)
    assert fresh.returncode == 0 and "each checked against the backup's manifest" in fresh.stdout, fresh.stderr


def test_a_backup_waits_for_the_writer_and_stops_plainly_if_it_must(home, tmp_path):
    hold = "import sys, time; from pathlib import Path; from tracker.run_lock import acquire; " \
           "acquire(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", hold, str(home)], cwd=PROJECT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        env = {**os.environ, "TRACKER_HOME": str(home), "TRACKER_RUN_WAIT_SECONDS": "1"}
        stopped = subprocess.run([sys.executable, "-m", "pipelines.cli", "backup", "--to", str(tmp_path / "b")],
                                 cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert stopped.returncode == 1 and "Another run is writing the warehouse" in stopped.stderr
    assert "Traceback" not in stopped.stderr and not list((tmp_path / "b").glob("*.tar.gz"))


def test_a_backup_is_written_outside_its_home(home):
    with pytest.raises(BackupError, match="outside the home"):
        backup(home / "backups", home)


def _rewrite(source, target, change, extra: dict[str, bytes] | None = None) -> None:
    """Copy a backup, letting ``change(name, bytes)`` alter each member's bytes (None drops it), then add ``extra``."""
    with tarfile.open(source, "r:gz") as archive, tarfile.open(target, "w:gz") as out:
        members = [(m, change(m.name, archive.extractfile(m).read())) for m in archive.getmembers()]
        for member, body in [*members, *((tarfile.TarInfo(name), body) for name, body in (extra or {}).items())]:
            if body is not None:
                member.size = len(body)
                out.addfile(member, io.BytesIO(body))


@pytest.mark.parametrize("damage", ["changed byte", "missing file", "extra file", "cut short", "not a backup",
                                    "path outside", "no manifest"])
def test_a_damaged_backup_is_refused_and_nothing_is_restored(home, tmp_path, damage):
    good = backup(tmp_path / "backups", home).path
    bad = tmp_path / "bad.tar.gz"
    if damage == "changed byte":
        _rewrite(good, bad, lambda name, body: body[:-1] + bytes([body[-1] ^ 1]) if name == "warehouse.duckdb"
                 else body)
    elif damage == "missing file":
        _rewrite(good, bad, lambda name, body: None if name.startswith("returns/archive/") else body)
    elif damage == "extra file":
        _rewrite(good, bad, lambda name, body: body, extra={"returns/inbox/D1/planted.csv": b"x"})
    elif damage == "cut short":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif damage == "not a backup":
        bad.write_bytes(gzip.compress(b"just some text"))
    elif damage == "path outside":
        def traverse(name, body):
            if name == MANIFEST:
                manifest = json.loads(body)
                manifest["files"]["../escaped.txt"] = {"bytes": 1, "sha256": "0" * 64}
                return json.dumps(manifest).encode()
            return body
        _rewrite(good, bad, traverse, extra={"../escaped.txt": b"x"})
    else:
        _rewrite(good, bad, lambda name, body: None if name == MANIFEST else body)
    target = tmp_path / "restored"
    with pytest.raises(BackupError) as refused:
        restore(bad, target)
    assert "nothing was restored" in str(refused.value) and "Traceback" not in str(refused.value)
    assert not target.exists() and not (tmp_path / "escaped.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".restored-restoring-")]  # no half-made home
