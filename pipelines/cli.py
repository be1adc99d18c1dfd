"""The tracker's command line: `run`, `demo`, `dashboard`, `status`, `backup`, `restore`, and for returns
`validate`, `submit`, `template`, `returns`.

Every command prints progress as it goes and a short summary, and turns
failures into plain sentences (exit code 1), never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tracker import settings
from tracker.process_exit import leave

ROOT = Path(__file__).resolve().parent.parent  # where `python -m bench.run` finds the benchmark
FULL_COLLECTION_EVERY = 100  # middle-generation collections between two full ones, in a run (Python's default: 10)


def _prepare_environment(as_of: str | None) -> None:
    if as_of:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise ValueError(f"--as-of {as_of!r} is not a date in the form YYYY-MM-DD.") from None
        too_late = settings.later_than_today(day)
        if too_late:
            raise ValueError(f"--as-of {as_of} is {too_late}")
        os.environ["TRACKER_AS_OF"] = as_of
    from pipelines.instance import write_instance_config

    home = settings.tracker_home()
    os.environ["TRACKER_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(write_instance_config(home))


DEGRADED = 3  # published, but a source could not be read in full: not a success for a scheduler
EXCEPTION_NAME = re.compile(r"^[\w.]+(Error|Exception|Failure): ")  # "dagster._core...Failure: " is not for people


def failure_messages(result) -> list[str]:
    """The plain-English reason for each failed step (the Failure description, not a traceback)."""
    messages = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            text = error.message.strip() if error else "unknown error"
            cause = error.cause if error else None
            while cause is not None and "Failure" not in text:
                text, cause = cause.message.strip(), cause.cause
            first = EXCEPTION_NAME.sub("", text.splitlines()[0] if text else "unknown error")
            messages.append(f"{event.step_key}: {first}")
    return messages


def run_pipeline(as_of: str | None = None) -> int:
    """Materialise every asset and publish the snapshot on a persistent Dagster instance."""
    _prepare_environment(as_of)
    started = time.monotonic()
    print(f"Tracker home: {settings.tracker_home()}")
    print(f"Data:         {settings.data_dir()}")
    print("Materialising every asset (raw -> staging -> marts -> published snapshot) ...", flush=True)
    from checks import return_gx_process

    return_gx_process.start_ahead(settings.returns_inbox_dir())  # GX imported on the other core while Dagster loads
    try:
        return _run_job(started)
    finally:
        return_gx_process.stop_ahead()


def _run_job(started: float) -> int:
    import dagster as dg  # heavy: imported only when a run is asked for

    from assets import dbt_ahead
    from checks import return_gx_process
    from pipelines.definitions import defs
    from tracker.dead_runs import PROCESS_TAG, process_identity
    from tracker.run_lock import RunLocked, run_lock

    job = defs.resolve_job_def("refresh_all")
    gc.freeze()  # the modules and definitions outlive the run: its garbage collections need not walk them
    # A full collection walks every object the run holds: at national size, the 61,000 returns listed and their
    # reports. Python's default (one every 10 middle ones, at most) took 7 s of a 27 s intake; one every 100 took
    # 0.7 s. The young generations, where most cyclic garbage dies, are collected as often as before.
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    # dbt imported on the other core while the steps before the marts run, once GX's process has imported GX:
    # two imports beside the run on two cores slowed the run's own start and first steps by about a second
    dbt = dbt_ahead.start(after=return_gx_process.wait_until_imported)
    try:
        with run_lock(on_wait=lambda who: print(f"Another run is writing the warehouse ({who or 'holder unknown'}): "
                                                "waiting for it to finish ...", flush=True)), \
                dg.DagsterInstance.get() as instance:
            result = job.execute_in_process(
                instance=instance, run_config={"loggers": {"progress": {}}}, raise_on_error=False,
                tags={PROCESS_TAG: process_identity()},  # so a kill of this process is found (tracker/dead_runs.py)
            )
    except RunLocked as locked:
        print(f"\n{locked}")
        return 1
    finally:
        if dbt is not None:
            dbt.stop()
    elapsed = time.monotonic() - started
    materialised = len(result.get_asset_materialization_events())
    checks = result.get_asset_check_evaluations()
    degraded = [c for c in checks if not c.passed and c.check_name.endswith("_feed_readable")]
    failed = [c for c in checks if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR and c not in degraded]
    warned = [c for c in checks if not c.passed and c.severity == dg.AssetCheckSeverity.WARN]
    print()
    print(f"Run {result.run_id[:8]} finished in {elapsed:.1f} s: {materialised} tables materialised, "
          f"{len(checks)} checks ({len(checks) - len(failed) - len(warned) - len(degraded)} passed, "
          f"{len(warned)} warnings, {len(degraded)} sources not read in full, {len(failed)} failed).")
    for check in warned:
        print(f"  warning: {check.check_name} on {check.asset_key.to_user_string()}")
    if not result.success or failed:
        print("\nThe run did not complete. What went wrong:")
        for message in failure_messages(result):
            print(f"  - {message}")
        for check in failed:
            said = f": {check.description}" if check.description else ""  # a mart's rules say which broke
            print(f"  - blocking check failed: {check.check_name} on {check.asset_key.to_user_string()}{said}")
        print("Earlier published figures are unchanged. Details: `dagster dev -w workspace.yaml`, Runs.")
        return 1
    _print_summary()
    if degraded:
        print("\nPublished, but these sources could not be read in full (their other files, or their last good "
              "figures, were published; a source never read yet is empty until it can be; the data-quality page "
              "names each file):")
        for check in degraded:
            print(f"  - {check.description}")
        return DEGRADED
    return 0


def _print_summary() -> None:
    from pipelines.snapshot_summary import headline_figures

    manifest = json.loads(settings.manifest_path().read_text(encoding="utf-8"))
    print(f"\nPublished snapshot {manifest['version']} (as of {manifest['as_of']}):")
    print(f"  {settings.snapshot_path()}")
    for line in headline_figures(settings.snapshot_path()):
        print(f"  {line}")


DASHBOARD_APP = settings.PROJECT_DIR / "dashboard" / "app.py"


def streamlit_command(port: int, address: str, secrets: Path | None = None) -> list[str]:
    """How the dashboard is served: headless, no usage statistics, no error details shown to users, uploads capped
    at a return's size limit, and the secrets (sign-in, Notify) read from ``secrets`` or TRACKER_SECRETS_FILE."""
    return [sys.executable, "-m", "streamlit", "run", str(DASHBOARD_APP), "--server.headless=true",
            f"--server.port={port}", f"--server.address={address}", "--browser.gatherUsageStats=false",
            "--client.showErrorDetails=none", "--client.toolbarMode=minimal", "--server.maxUploadSize=2",
            f"--secrets.files={secrets or settings.secrets_file()}"]


def dashboard(port: int = 8501, address: str = "127.0.0.1") -> int:
    """Serve the dashboard on the published snapshot until stopped (Ctrl-C)."""
    _prepare_environment(None)
    if not settings.snapshot_path().exists():
        print(f"Nothing has been published yet under {settings.tracker_home()}. Run `tracker run` first.")
        return 1
    if not _port_free(address, port):
        print(f"tracker: port {port} on {address} is in use by another program (perhaps a dashboard already "
              "running): stop it, or choose another port with --port.", file=sys.stderr)
        return 1
    print(f"\nThe dashboard is at http://{address}:{port}/ (Ctrl-C to stop). It reads only the published "
          "snapshot, so `tracker run` can publish new figures while it is open.", flush=True)
    command = streamlit_command(port, address)
    # This process becomes the server, so a supervisor's SIGTERM (or Ctrl-C) reaches it, and no orphan is left.
    os.execve(command[0], command, dict(os.environ))
    return 0  # not reached


def _port_free(address: str, port: int) -> bool:
    """Whether the dashboard could listen there now: said before the dashboard is announced, not after."""
    import socket

    try:
        with socket.create_server((address, port)):
            return True
    except OSError:
        return False


def port_number(text: str) -> int:
    """--port: a whole number a server can listen on."""
    if not text.strip().isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give a whole number from 1 to 65535")
    return int(text)


DEMO_ARCHIVES = ("pay/snapshots", "forms/snapshots", "data_sharing/catalogue_versions")


def demo_as_of(data_dir) -> dt.date:
    """A month after the quarter of the shipped data's last file ends: the day the demo reports as of.

    Read from the archives' dated file names, so newer shipped data moves the demo with it.
    """
    from tracker.parsing import date_from_file_name

    dates = [date_from_file_name(p.name) for folder in DEMO_ARCHIVES for p in (data_dir / folder).glob("*")]
    last = max((d for d in dates if d), default=dt.date.today())
    quarter_end = dt.date(last.year + (last.month > 9), (((last.month - 1) // 3 + 1) * 3) % 12 + 1, 1) \
        - dt.timedelta(days=1)
    month_later = dt.date(quarter_end.year + (quarter_end.month == 12), quarter_end.month % 12 + 1, 1)
    return dt.date(month_later.year + (month_later.month == 12), month_later.month % 12 + 1, 1) - dt.timedelta(days=1)


def demo(as_of: str | None = None, serve: bool = True, port: int = 8501, address: str = "127.0.0.1") -> int:
    from pipelines.return_commands import deliver_samples

    if not as_of:
        as_of = demo_as_of(settings.data_dir()).isoformat()
        os.environ["TRACKER_AS_OF_NOTE"] = ("the demo's date: a month after the quarter in which the shipped "
                                            "data ends")
        print(f"The demo reports as of {as_of}, a month after the quarter in which the shipped data ends "
              "(choose another date with --as-of).")
    _prepare_environment(as_of)
    os.environ.setdefault("TRACKER_DEMO_SIGN_IN", "on")  # the upload pages' labelled demo, unless a provider is set
    print("The upload pages use the DEMO sign-in (ILLUSTRATIVE identities, data/returns/access.example.yaml) unless "
          f"a sign-in provider is configured in {settings.secrets_file()}.")
    delivered = deliver_samples(settings.tracker_home(), settings.data_dir())
    if delivered:
        print(f"Put {len(delivered)} ILLUSTRATIVE sample returns in the inbox (not real figures):")
        for line in delivered:
            print(f"  - {line}")
    code = run_pipeline(as_of)
    if code not in (0, DEGRADED):  # a source that could not be read in full still leaves a dashboard to show
        return code
    from pipelines.return_commands import status_lines

    print("\nReturns received (ILLUSTRATIVE samples are marked):")
    for line in status_lines():
        print(f"  {line}")
    print("\nBrowse the asset graph, checks and runs with:\n"
          f"  DAGSTER_HOME={settings.dagster_home()} python3 -m uv run dagster dev -w workspace.yaml")
    return dashboard(port, address) if serve else code


def status() -> int:
    _prepare_environment(None)
    from pipelines.instance import storage_description

    print(f"Dagster's runs, schedules and sensors are recorded in {storage_description()}.")
    if not settings.snapshot_path().exists():
        print(f"Nothing has been published yet under {settings.tracker_home()}. Run `tracker run` first.")
        return 1
    _print_summary()
    return 0


def _returns_command(args) -> int:
    from pipelines import return_commands

    if args.command == "validate":
        return return_commands.validate(args.file, args.organisation)
    if args.command == "submit":
        return return_commands.submit(args.file, args.organisation)
    if args.command == "template":
        return return_commands.template(args.out)
    for line in return_commands.status_lines():
        print(line)
    return 0


def _backup_command(args) -> int:
    from tracker.backup import BackupError, backup, restore
    from tracker.run_lock import RunLocked

    try:
        if args.command == "backup":
            _prepare_environment(None)
            print(f"Backing up {settings.tracker_home()} (waiting for any run writing the warehouse) ...", flush=True)
            made = backup(Path(args.to))
            print(f"Wrote {made.path}: {made.files} files, {made.bytes / 1e6:.1f} MB before compression.")
            return 0
        home = Path(args.into) if args.into else settings.tracker_home()
        made = restore(Path(args.file), home)
        print(f"Restored {made.files} files ({made.bytes / 1e6:.1f} MB), each checked against the backup's "
              f"manifest, into {made.path}.\nRun `tracker status` with TRACKER_HOME={made.path} to see what it "
              "publishes.")
        return 0
    except (BackupError, RunLocked) as problem:
        print(f"tracker: {problem}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tracker", description="Cross-government platform adoption tracker.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "materialise every asset on the shipped data and publish the snapshot"),
        ("demo", "the main job: run everything on the shipped real data, publish, and serve the dashboard"),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--as-of", help="reporting date YYYY-MM-DD (default: " + (
            "a month after the quarter in which the shipped data ends" if name == "demo" else "today") + ")")
    commands.choices["demo"].add_argument("--no-dashboard", action="store_true",
                                          help="end after publishing instead of serving the dashboard")
    serve = commands.add_parser("dashboard", help="serve the dashboard on the published snapshot")
    for sub in (commands.choices["demo"], serve):
        sub.add_argument("--port", type=port_number, default=8501,
                         help="port to serve the dashboard on (default: 8501)")
        sub.add_argument("--address", default="127.0.0.1",
                         help="address to listen on (default: 127.0.0.1; 0.0.0.0 to share on the network)")
    commands.add_parser("status", help="show what is published now")
    check = commands.add_parser("validate", help="check a return file (.csv or .xlsx) against the contract",
                                description="Check a return before sending it: exit 0 if valid, else each problem.")
    check.add_argument("file")
    check.add_argument("--organisation", help="the code of the organisation that will send it (optional)")
    send = commands.add_parser("submit", help="send a return: put it in the organisation's inbox folder")
    send.add_argument("file")
    send.add_argument("--organisation", required=True, help="your GOV.UK organisation code, like D10")
    make = commands.add_parser("template", help="write the CSV and Excel return templates")
    make.add_argument("--out", default=".", help="folder to write them to (default: here)")
    commands.add_parser("returns", help="list the returns received and what happened to each")
    keep = commands.add_parser("backup", help="write a backup of the tracker home (waits for a running run)",
                               description="Write one tracker-backup-<time>.tar.gz of everything under TRACKER_HOME "
                               "that cannot be rebuilt: the warehouse, the snapshot, every return, the feeds as "
                               "fetched, the ledgers. It holds personal data: keep it as safe as the warehouse.")
    keep.add_argument("--to", required=True, help="folder to write the backup to (outside TRACKER_HOME)")
    bring = commands.add_parser("restore", help="restore a backup into a new, empty tracker home",
                                description="Check every file of a backup against its manifest, then restore it into "
                                "a folder that does not exist or is empty (default: TRACKER_HOME).")
    bring.add_argument("file", help="the tracker-backup-*.tar.gz file")
    bring.add_argument("--into", help="the new home (default: TRACKER_HOME)")
    commands.add_parser("bench", add_help=False, help="measure the tracker on GENERATED data at each size "
                                  "(bench/run.py; `tracker bench --help`)")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # the benchmark drives the tracker from outside, in its own process
        return subprocess.call([sys.executable, "-m", "bench.run", *argv[1:]], cwd=ROOT)
    args = parser.parse_args(argv)
    try:
        settings.as_of()  # every command that reads it would otherwise fail later, and blame something else
        if args.command == "run":
            return run_pipeline(args.as_of)
        if args.command == "demo":
            return demo(args.as_of, not args.no_dashboard, args.port, args.address)
        if args.command == "dashboard":
            return dashboard(args.port, args.address)
        if args.command in ("validate", "submit", "template", "returns"):
            return _returns_command(args)
        if args.command in ("backup", "restore"):
            return _backup_command(args)
        return status()
    except BrokenPipeError:  # output piped into `head` and the like
        return 0
    except ValueError as err:
        print(f"tracker: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a folder or file the command was given, or TRACKER_HOME, that cannot be used
        print(f"tracker: {_os_problem(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tracker: stopped.", file=sys.stderr)
        return 130


def _os_problem(err: OSError) -> str:
    """An operating system's refusal in a sentence: which path, and why (its own words, 'File exists')."""
    reason = err.strerror or type(err).__name__
    if err.filename is None:
        return f"{reason}."
    return f"cannot use {err.filename}: {reason}." + (" Name a folder." if isinstance(err, FileExistsError) else "")


def command_line() -> None:
    """The ``tracker`` command: ``main()``, then the process ends without teardown (tracker/process_exit.py)."""
    leave(main())


if __name__ == "__main__":
    command_line()
