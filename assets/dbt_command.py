"""dbt's command line as each run's ``dbt build`` starts it, through the launcher ``marts.dbt_launcher`` writes.

It is the ``dbt`` script, except that the process ends without Python's teardown (tracker/process_exit.py),
0.4 s of every run. dbt-duckdb keeps the warehouse open for the whole process (its ``keep_open``, on by default)
and would close it only in that teardown, so it is closed here first: its last writes are checkpointed into the
file as before, not left in the write-ahead log for the next process to replay.

When ``tracker run`` has started a dbt process ahead of the build (``assets/dbt_ahead.py``), this one hands
the command to it and ends with its exit code; otherwise it runs dbt itself.
"""

from __future__ import annotations

import os
import sys

from assets.dbt_ahead import AHEAD_VARIABLE, hand_over
from tracker.process_exit import leave


def close_warehouse() -> None:
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # another adapter: nothing of dbt-duckdb's to close
        return
    environment = getattr(DuckDBConnectionManager, "_ENV", None)  # dbt-duckdb's one environment per process
    if environment is not None:
        environment.close()


def run_cli(cli) -> int:
    """dbt's command line on ``sys.argv``, to its exit code (click ends by raising SystemExit with it)."""
    try:
        cli()
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


def main() -> None:
    ahead = os.environ.get(AHEAD_VARIABLE)
    if ahead:  # a dbt process started ahead of the run (tracker run) takes the command if it is there
        code = hand_over(ahead, sys.argv[1:])
        if code is not None:
            leave(code)
    from dbt.cli.main import cli

    code = run_cli(cli)
    close_warehouse()
    leave(code)


if __name__ == "__main__":
    main()
