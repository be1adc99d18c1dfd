"""What Great Expectations found over a run's accepted returns, kept beside each return's record.

Written by the returns asset when it validated them itself, or by the blocking contract check when the process
started ahead validated them while the run went on (``return_gx_process.validate_accepted_later``). Either way
the per-file gate (the native evaluator) has already decided and written each return, and its decision stands:
GX runs the same rules, so a disagreement between the two is a bug, logged as an error and recorded
(``agrees_with_native`` false), not a reason to take back an accepted return.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection
from typing import Any

import dagster as dg
import pandas as pd

from checks.contract_passes import contract_stamp, record_returns_passed
from checks.return_gx_process import CheckedReturns
from tracker.warehouse import transaction


def record_gx_results(con, log: Any, returns: int, checked: CheckedReturns, known: Collection[str],
                      as_of: dt.date) -> dict:
    """Each return's result in ``audit.return_submissions.gx_result``, the returns that passed recorded for the
    contract check, and what was found as metadata; ``log`` is a Dagster context's."""
    results = pd.DataFrame({"submission_ref": list(checked.per_return),
                            "gx_result": [json.dumps(result) for result in checked.per_return.values()]})
    with transaction(con):  # one statement for the run's returns, however many
        con.register("_gx_results", results)
        con.execute("UPDATE audit.return_submissions s SET gx_result = r.gx_result::JSON FROM _gx_results r "
                    "WHERE s.submission_ref = r.submission_ref")
        con.unregister("_gx_results")
        # the same suite the blocking check runs, with the same inputs: it need not validate these rows again
        record_returns_passed(con, contract_stamp(known, as_of), checked.passed)
    if checked.error:
        log.error(f"Great Expectations could not validate the {returns} accepted return(s): {checked.error}. "
                  "The native evaluator's decisions stand.")
        return {"great expectations": f"could not run: {checked.error}"}
    for reference in checked.disagreements:
        log.error(f"BUG: Great Expectations and the native evaluator found different failures for {reference}: "
                  f"{json.dumps(checked.per_return[reference])}. The native evaluator's decision stands.")
    log.info(f"Great Expectations validated {returns} accepted return(s) as one frame against "
             f"{checked.evaluated} expectations in {checked.seconds:.1f}s.")
    return {
        "great expectations: returns validated": returns,
        "great expectations: expectations evaluated": checked.evaluated,
        "great expectations: expectations failed": len(checked.failed_lines),
        "great expectations: failed expectations": dg.MetadataValue.md(
            "\n".join(f"- {line}" for line in checked.failed_lines) or "_none_"),
        "great expectations: disagreements with the native evaluator": len(checked.disagreements),
        "great expectations: seconds": round(checked.seconds, 2),
    }
