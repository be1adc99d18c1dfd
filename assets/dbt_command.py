"""dbt's command line as each run's ``dbt build`` starts it, through the launcher ``marts.dbt_launcher`` writes.

It is the ``dbt`` script, except that the process ends without Python's teardown (tracker/process_exit.py),
0.4 s of every run. dbt-duckdb keeps the warehouse open for the whole process (its ``keep_open``, on by default)
and would close it only in that teardown, so it is closed here first: its last writes are checkpointed into the
file as before, not left in the write-ahead log for the next process to replay.
"""

from __future__ import annotations

from tracker.process_exit import leave


def close_warehouse() -> None:
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # another adapter: nothing of dbt-duckdb's to close
        return
    environment = getattr(DuckDBConnectionManager, "_ENV", None)  # dbt-duckdb's one environment per process
    if environment is not None:
        environment.close()


def main() -> None:
    from dbt.cli.main import cli

    try:
        cli()  # click ends by raising SystemExit with dbt's exit code
    except SystemExit as done:
        code = done.code
    else:
        code = 0
    close_warehouse()
    leave(code)


if __name__ == "__main__":
    main()
