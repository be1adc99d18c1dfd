"""The daemon's watch for killed runs: without it a killed run stays STARTED and holds the one-run queue for ever.

The queue (pipelines/instance.py) starts no run while another is in progress,
so one run killed mid-way would stop every schedule and sensor run until
Dagster's run monitoring reached its six-hour limit. This sensor looks every
minute; a run it marks failed is then alerted like any failed run.
"""

from __future__ import annotations

import dagster as dg

from tracker.dead_runs import fail_runs_whose_process_died


@dg.sensor(name="fail_killed_runs", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Marks failed every run whose process was killed (or whose machine restarted) before it "
           "finished, so none shows as running for ever or blocks the queue. Starts no run.")
def fail_killed_runs(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    failed = fail_runs_whose_process_died(context.instance)
    return dg.SkipReason(f"Marked failed: {', '.join(run[:8] for run in failed)} (their process had stopped)."
                         if failed else "No run's process has stopped without finishing.")
