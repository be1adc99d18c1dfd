"""A run's steps in one process, two at a time where neither waits for the other.

One process, because every step writes the one DuckDB file, which one process at a time may write (its
connections share one database; their transactions may overlap). Two at a time, because in a national full build
one at a time left the second core idle for 40% of the run: the returns intake uses 1.55 cores, the register and
the API catalogue about one (BENCHMARKS.md). Steps start in Dagster's order. A step tagged ``RUNS_ALONE_TAG`` (the
marts: dbt, another process, opens the file) starts only when no other runs, and none starts beside it. Every
schema is made before the steps start (``TrackerWarehouse.keep_open``): two steps making the same one conflict.

An interrupt (Ctrl-C, or the run terminated from Dagster's UI) reaches the run's thread only; it is raised in each
running step's thread, where it fails the step as it would in Dagster's own in-process executor (its ``with`` and
``finally`` blocks run), and the run stops once they have.

Built on Dagster's internal execution plan API (1.13), as its own in-process executor is: ``execute_here`` runs a
job this way where ``execute_in_process`` would put that executor in its place.
"""

from __future__ import annotations

import ctypes
import os
import queue
import threading
from collections.abc import Iterator

import dagster as dg
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.compute_logs import create_compute_log_file_key
from dagster._core.execution.context.system import PlanExecutionContext, PlanOrchestrationContext
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.plan.execute_plan import _trigger_hook, dagster_event_sequence_for_step
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._core.executor.in_process import InProcessExecutor
from dagster._utils.interrupts import pop_captured_interrupt

from tracker.step_tags import RUNS_ALONE_TAG

STEPS_AT_ONCE = 2
POLL_SECONDS = 0.2  # how often the run's thread looks for an interrupt while it waits for the steps' events
_DONE = object()


def _runs_alone(step) -> bool:
    return step.tags.get(RUNS_ALONE_TAG) == "true"


def _step_thread(step_context, events: queue.Queue) -> None:
    """Run one step, handing each event, then what it raised (if it did), then ``_DONE``, to the run's thread."""
    key = step_context.step.key
    try:
        for event in dagster_event_sequence_for_step(step_context):
            events.put((key, event))
    except BaseException as err:  # noqa: BLE001  an interrupt or Dagster's own error: the run's thread raises it
        events.put((key, err))
    finally:
        events.put((key, _DONE))


def _interrupt(thread: threading.Thread) -> None:
    """Raise the interrupt in ``thread`` when it next runs Python (after the DuckDB statement it may be in)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                               ctypes.py_object(DagsterExecutionInterruptedError))


def _side_by_side(job_context: PlanExecutionContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
    """Dagster's ``inner_plan_execution_iterator`` with up to ``STEPS_AT_ONCE`` steps running, each in a thread."""
    logs = job_context.instance.compute_log_manager
    step_keys = [step.key for step in execution_plan.get_steps_to_execute_in_topo_order()]
    with InstanceConcurrencyContext(job_context.instance, job_context.dagster_run) as concurrency, \
            execution_plan.start(retry_mode=job_context.retry_mode, instance_concurrency_context=concurrency,
                                 step_dependency_config=job_context.step_dependency_config) as active:
        log_key = logs.build_log_key_for_run(job_context.run_id, create_compute_log_file_key())
        with logs.capture_logs(log_key) as log_context:
            yield DagsterEvent.capture_logs(job_context, step_keys, log_key, log_context)
            events: queue.Queue = queue.Queue()
            running: dict[str, tuple] = {}  # step key -> (its thread, its context, the events it yielded)
            held = None  # a step to run alone, taken from the plan, until the steps running now finish
            stopping: BaseException | None = None  # what ends the run once the running steps have stopped
            while not active.is_complete and stopping is None or running:
                while stopping is None and not active.is_complete and len(running) < STEPS_AT_ONCE and not any(
                        _runs_alone(context.step) for _, context, _ in running.values()):
                    step, held = (held, None) if held is not None else (active.get_next_step(), None)
                    yield from active.concurrency_event_iterator(job_context)
                    if step is None:
                        break
                    if running and _runs_alone(step):
                        held = step
                        break
                    context = job_context.for_step(step, active.get_known_state())
                    thread = threading.Thread(target=_step_thread, args=(context, events), daemon=True,
                                              name=f"step {step.key}")
                    running[step.key] = (thread, context, [])
                    thread.start()
                if stopping is None and pop_captured_interrupt():
                    stopping = DagsterExecutionInterruptedError()
                    active.mark_interrupted()
                    for thread, _, _ in running.values():
                        _interrupt(thread)
                if not running:
                    if stopping is None:
                        active.sleep_til_ready()
                    continue
                try:
                    key, event = events.get(timeout=POLL_SECONDS)
                except queue.Empty:  # a thread the interrupt reached as it said it was done never will
                    gone = [key for key, (thread, _, _) in running.items() if not thread.is_alive()]
                    if not gone:
                        continue
                    key, event = gone[0], _DONE
                thread, context, seen = running[key]
                if isinstance(event, BaseException):
                    stopping = stopping or event
                    for other, _, _ in running.values():
                        if other is not thread:
                            _interrupt(other)
                elif event is not _DONE:
                    seen.append(event)
                    yield event
                    active.handle_event(event)
                else:
                    del running[key]
                    active.verify_complete(job_context, key)
                    for plan_event in active.plan_events_iterator(job_context):
                        seen.append(plan_event)
                        yield plan_event
                    yield from _trigger_hook(context, seen)
            if stopping is not None:
                raise stopping


class SideBySideExecutor(InProcessExecutor):
    def execute(self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
                ) -> Iterator[DagsterEvent]:
        yield DagsterEvent.engine_event(
            plan_context, f"Executing steps in process (pid: {os.getpid()}), up to {STEPS_AT_ONCE} at once",
            event_specific_data=EngineEventData.in_process(os.getpid(), execution_plan.step_keys_to_execute))
        yield from iter(ExecuteRunWithPlanIterable(
            execution_plan=plan_context.execution_plan,
            iterator=_side_by_side,
            execution_context_manager=PlanExecutionContextManager(
                job=plan_context.job, retry_mode=plan_context.retry_mode,
                execution_plan=plan_context.execution_plan, run_config=plan_context.run_config,
                dagster_run=plan_context.dagster_run, instance=plan_context.instance,
                raise_on_error=plan_context.raise_on_error, output_capture=plan_context.output_capture,
                step_dependency_config=self.step_dependency_config)))


@dg.executor(name="side_by_side")
def side_by_side_executor(_init_context) -> SideBySideExecutor:
    """Steps in the run's process, up to two at once (see the module)."""
    return SideBySideExecutor(retries=RetryMode.DISABLED)


def execute_here(job: dg.JobDefinition, instance: dg.DagsterInstance, run_config: dict, tags: dict
                 ) -> dg.ExecuteInProcessResult:
    """``job.execute_in_process(instance=..., raise_on_error=False)``, but run by the job's own executor."""
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.execution.execute_in_process import core_execute_in_process, merge_run_tags

    return core_execute_in_process(
        run_config=run_config, job=InMemoryJob(job_def=job), instance=instance, output_capturing_enabled=True,
        raise_on_error=False,
        run_tags=merge_run_tags(job_def=job, partition_key=None, tags=tags, asset_selection=None, instance=instance,
                                run_config=run_config))
