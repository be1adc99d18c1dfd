"""A Dagster logger that prints one plain line per finished step, for the command line."""

from __future__ import annotations

import logging
import sys

import dagster as dg

_SHOWN = {"STEP_SUCCESS", "STEP_FAILURE", "ASSET_CHECK_EVALUATION"}


class _ProgressHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None)
        event = meta.get("dagster_event") if isinstance(meta, dict) else None
        if event is None or event.event_type_value not in _SHOWN:
            return
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if evaluation.passed:
                return
            level = "warning" if evaluation.severity == dg.AssetCheckSeverity.WARN else "FAILED"
            line = f"  check {level}: {evaluation.check_name} ({evaluation.asset_key.to_user_string()})"
        elif event.event_type_value == "STEP_SUCCESS":
            line = f"  done    {event.step_key}"
        else:
            line = f"  FAILED  {event.step_key}"
        print(line, file=sys.stdout, flush=True)


@dg.logger(description="One line per finished step; used by the tracker command.")
def progress_logger(_init_context) -> logging.Logger:
    log = logging.Logger("tracker.progress", level=logging.DEBUG)
    log.addHandler(_ProgressHandler())
    return log
