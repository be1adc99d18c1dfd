"""Dagster's instance for a tracker home: TRACKER_HOME/dagster/dagster.yaml, written from the environment.

Every ``tracker`` command writes it before it runs, and the daemon and the
webserver read it (DAGSTER_HOME=TRACKER_HOME/dagster), so all three share one
record of runs, schedules and sensors:

- one run at a time (every run writes the one warehouse; tracker/run_lock.py is
  the guarantee, this queue only keeps runs from starting just to wait);
- Dagster's run monitoring, which fails a run that never started or that has run
  far longer than any refresh could (tracker/dead_runs.py fails those whose
  process was killed as soon as the next run starts);
- no capture of a run's standard output and error (``compute_logs``): a run's messages are its event log, and
  Dagster's capture started a Python helper per run that a terminal's Ctrl-C reached, and that died of it with a
  traceback (tests/test_cli.py);
- storage in SQLite files under the home by default (Dagster's own files,
  written through pipelines/instance_storage.py, which keeps them open while in
  use), or in PostgreSQL when TRACKER_DAGSTER_POSTGRES_URL is set: the file names
  the variable, never its value, so no password is written to disk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tracker import settings

POSTGRES_URL_VARIABLE = "TRACKER_DAGSTER_POSTGRES_URL"
START_TIMEOUT_SECONDS = 300
MAX_RUNTIME_SECONDS = 6 * 3600  # a full refresh takes under a minute on the shipped data

_BASE = f"""telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 1
run_monitoring:
  enabled: true
  start_timeout_seconds: {START_TIMEOUT_SECONDS}
  max_runtime_seconds: {MAX_RUNTIME_SECONDS}
  poll_interval_seconds: 60
compute_logs:
  module: dagster._core.storage.noop_compute_log_manager
  class: NoOpComputeLogManager
"""
_SQLITE = """storage:
  custom:
    module: pipelines.instance_storage
    class: TrackerSqliteStorage
    config:
      base_dir: {folder}
"""
_POSTGRES = f"""storage:
  postgres:
    postgres_url:
      env: {POSTGRES_URL_VARIABLE}
"""


def instance_yaml(home: Path | None = None) -> str:
    """The instance's configuration for the current environment.

    SQLite storage names the home's own Dagster folder (as Dagster's default storage does), so the file is the
    home's: a backup leaves it out and every ``tracker`` command writes it again for where the home now is."""
    if os.environ.get(POSTGRES_URL_VARIABLE):
        return _BASE + _POSTGRES
    return _BASE + _SQLITE.format(folder=json.dumps(str(settings.dagster_home(home).resolve())))


def write_instance_config(home: Path | None = None) -> Path:
    """Write dagster.yaml under the home's Dagster folder (only when it changes); returns that folder."""
    folder = settings.dagster_home(home)
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "dagster.yaml"
    wanted = instance_yaml(home)
    if not config.exists() or config.read_text(encoding="utf-8") != wanted:
        temporary = config.with_name(".dagster.yaml.tmp")
        temporary.write_text(wanted, encoding="utf-8")
        os.replace(temporary, config)  # the daemon may be reading it: never a half-written file
    return folder


def storage_description() -> str:
    """Where runs are recorded, for people: the PostgreSQL server and database (never the password), or the folder."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        return f"SQLite files in {settings.dagster_home()}"
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"PostgreSQL database {parts.path.lstrip('/') or '(default)'} on {parts.hostname}:{parts.port or 5432}"
