"""Runs whose process died: found and marked failed, so no run shows as running for ever.

A run killed with SIGKILL (or by a restart) never reports its own end, so the
instance keeps it STARTED. Every run records the process executing it in a tag
(host, pid and the process's start time, so a reused pid is not mistaken for
it). When a run takes the warehouse (tracker/resources.py), and whenever
``tracker status`` looks, each other in-progress run whose process is gone from
this host is marked FAILURE with a plain reason. Its unfinished work needs no
repair: the lock died with it, nothing it half-wrote was published, and the
inbox files it had not archived are still in the inbox for the next run.

Dagster's own run monitoring (pipelines/instance.py) covers what this cannot
see: a run that never started, or one on another host, after its timeouts.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

PROCESS_TAG = "tracker/process"  # "<host>:<pid>:<start time in clock ticks since boot>"


def _start_ticks(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/<pid>/stat), or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # fields after the command name, which may hold spaces


def process_identity(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid) or ''}"


def process_gone(identity: str) -> bool:
    """True only when the process is certainly gone: on this host, and no process with that pid and start time."""
    host, _, rest = identity.partition(":")
    pid, _, ticks = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's process: Dagster's run monitoring decides, after its timeouts
    return _start_ticks(int(pid)) != ticks


def fail_runs_whose_process_died(instance, except_run: str | None = None) -> list[str]:
    """Mark each in-progress run whose process is gone as FAILURE; returns their run ids."""
    from dagster import DagsterRunStatus, RunsFilter

    in_progress = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
    failed = []
    for record in instance.get_run_records(RunsFilter(statuses=in_progress)):
        run = record.dagster_run
        identity = run.tags.get(PROCESS_TAG)
        if run.run_id == except_run or not identity or not process_gone(identity):
            continue
        pid = identity.split(":")[1]
        instance.report_run_failed(
            run, f"The process running this run (pid {pid}) stopped before the run finished: it was killed or its "
                 "machine restarted. Nothing it half-wrote was published, and any return it had not archived is "
                 "still in the inbox; the next run takes up that work.")
        failed.append(run.run_id)
    return failed
