"""The returns intake started as soon as a run has read the organisation register, beside the steps that do not
need the returns.

Dagster runs a job's steps one after another (``executor=dg.in_process_executor``: every step writes the one
DuckDB file). Taking in a national inbox (61,000 files) is most of a run's Python, and the steps that do not need
the returns (GOV.UK Pay, the API catalogue, organisation matching) are mostly DuckDB and child processes, so one
after the other each left a core idle for much of its time. This hook, on the refresh job, starts the intake
(``take_inbox``) in a thread of the run's process once the run has materialised everything the intake reads (the
register: the asset's own dependencies), with the run's own resources; ``department_returns``, placed after those
steps, takes its result (``taken``) and reports it as if it had done the work itself: the same tables, the same
metadata, and the intake's log lines, kept until then.

The result is the one the step would have had: the intake reads only the register and the inbox, and writes only
its own tables, in its own transactions, which no step running beside it reads or writes (DuckDB lets one process's
connections write different tables at once). A run whose selection leaves out the returns, or names files
(the sensor's run), never starts one: the step does its work itself, as in any job without the hook. If the run
ends before the step (stopped, or failed), the warehouse's release waits for the intake, asking it to stop after
the chunk it is taking: the files not taken wait in the inbox, as after a run killed between two chunks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import dagster as dg

from tracker.resources import TrackerWarehouse

_started: dict[str, IntakeAhead] = {}  # run id -> the intake started ahead in this process, until its step takes it
_lock = threading.Lock()


class _KeptLog:
    """A log for the intake while no step is running: each line kept, and given to the step's log when it comes."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, message: str) -> None:
        self.lines.append(("info", message))

    def warning(self, message: str) -> None:
        self.lines.append(("warning", message))

    def error(self, message: str) -> None:
        self.lines.append(("error", message))


class IntakeAhead:
    """``intake(log, stop)`` running in a thread: its result (or its error) for the step, once it is done."""

    def __init__(self, intake: Callable[[_KeptLog, Callable[[], bool]], object]) -> None:
        self._log, self._stop = _KeptLog(), threading.Event()
        self._value: object = None
        self._error: BaseException | None = None
        self._started = time.monotonic()
        self._took = 0.0
        self._thread = threading.Thread(target=self._run, args=(intake,), name="returns-intake")
        self._thread.start()

    def _run(self, intake: Callable[[_KeptLog, Callable[[], bool]], object]) -> None:
        try:
            self._value = intake(self._log, self._stop.is_set)
        except BaseException as err:  # noqa: BLE001  the step raises it, as if it had met it itself
            self._error = err
        finally:
            self._took = time.monotonic() - self._started

    def result(self, log) -> object:
        """Wait for the intake; its log lines to ``log``; its result, or the error it met raised here."""
        waiting = time.monotonic()
        self._thread.join()
        waited = time.monotonic() - waiting
        for level, message in self._log.lines:
            getattr(log, level)(message)
        log.info(f"The returns were taken in beside the steps before this one, in {self._took:.1f} s; this step "
                 f"waited {waited:.1f} s for them.")
        if self._error is not None:
            raise self._error
        return self._value

    def stop(self) -> None:
        """Ask the intake to stop after the chunk it is taking, and wait for it."""
        self._stop.set()
        self._thread.join()


def taken(run_id: str) -> IntakeAhead | None:
    """The intake started ahead in this run, handed over once (None when there is none: the step takes it in)."""
    with _lock:
        return _started.pop(run_id, None)


_considered: set[str] = set()  # runs already started, or found not to want one
_wanted: dict[str, bool] = {}  # run id -> whether its plan takes the whole inbox in the intake step (asked once)


@dg.success_hook(required_resource_keys={"warehouse", "settings"})
def start_intake_ahead(context: dg.HookContext) -> None:
    """After each step of a run: once the run has materialised everything the intake reads, start it."""
    run_id = context.run_id
    if run_id in _considered:
        return
    try:
        ready = _ready(context)
    except Exception as err:  # noqa: BLE001  a lost saving: the step takes the returns in itself
        context.log.warning(f"The returns intake could not be started ahead of its step ({type(err).__name__}: "
                            f"{err}); the step takes them in.")
        ready = False
        _considered.add(run_id)
    if not ready:
        return
    _considered.add(run_id)
    warehouse, settings = context.resources.warehouse, context.resources.settings
    from assets.returns import take_inbox

    with _lock:
        ahead = _started[run_id] = IntakeAhead(lambda log, stop: take_inbox(warehouse, settings, [], log, stop))
    warehouse.before_letting_go(ahead.stop)


def _ready(context: dg.HookContext) -> bool:
    """Whether to start now: the run's plan has the intake step, which takes the whole inbox (no files named), and
    the run has materialised every asset the step reads. A run that will never want one is not asked again."""
    from assets.returns import department_returns

    if context.run_id not in _wanted:  # the run's plan and config, read once a run, not after every step
        step = department_returns.node_def.name
        run = context.instance.get_run_by_id(context.run_id)
        plan = context.instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        config = ((run.run_config or {}).get("ops") or {}).get(step) or {}
        _wanted[context.run_id] = step in plan.step_keys_to_execute and not (config.get("config") or {}).get(
            "files") and isinstance(context.resources.warehouse, TrackerWarehouse)
    if not _wanted[context.run_id]:
        _considered.add(context.run_id)
        return False
    inputs = department_returns.dependency_keys - department_returns.keys
    written = {record.event_log_entry.dagster_event.asset_key for record in context.instance.get_records_for_run(
        context.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records}
    return inputs <= written
