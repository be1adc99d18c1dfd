"""Asset checks on departments' returns: what CDDO should chase, visible in the Dagster UI.

Blocking: the accepted figures must still meet the contract (the Great
Expectations suite translated from the same rules a return is validated with on
arrival, run over all the figures as one frame, its result in the check's
metadata), so nothing invalid can reach the marts. Warnings: rejected returns
not yet put right, implausible quarter-on-quarter changes, reported Pay figures
that disagree with GOV.UK Pay's own, and expected organisations that have not
returned after the deadline.
Thresholds are stated once, in checks/return_contract.py.
"""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from checks.contract_passes import RETURNS_TABLE, ROW_HASH, contract_stamp, passed_before, record_every_row_passed
from checks.platform_checks import SAMPLE_ROWS, WARN, Rule, check_from_rule
from checks.return_contract import (
    PLAUSIBLE_CHANGE_MINIMUM,
    PLAUSIBLE_CHANGE_SHARE,
    RECONCILIATION_MINIMUM,
    RECONCILIATION_SHARE,
)
from checks.return_gx_process import take_pending
from checks.return_gx_results import record_gx_results
from tracker.resources import TrackerConfig
from tracker.warehouse import connect, organisation_codes


@dg.asset_check(
    asset=dg.AssetKey(["staging", "department_returns"]),
    name="department_returns_meet_contract",
    blocking=True,
    description="Every accepted return still meets the return contract (the Great Expectations suite generated "
    "from checks/return_contract.py), so nothing invalid reaches the marts.",
)
def department_returns_meet_contract(settings: TrackerConfig, warehouse: DuckDBResource) -> dg.AssetCheckResult:
    """GX over the returns not yet passed with this suite, reporting date and register (checks/contract_passes.py):
    a return that passed, here or on arrival, stays passed while its row and those are unchanged, so a run checks
    what is new, not the whole history. The one rule that compares rows (one return per organisation and quarter)
    holds over the whole table by its primary key.

    The run's own accepted returns may still be being validated by the process started ahead
    (``return_gx_process.validate_accepted_later``): its answer is recorded first, as on arrival."""
    with connect(warehouse) as con:
        pending, arrived = take_pending(), {}
        if pending is not None:
            arrived = record_gx_results(con, dg.get_dagster_logger(), len(pending.accepted), pending.checked(),
                                        pending.known_organisations, pending.as_of)
        known = organisation_codes(con)
        stamp = contract_stamp(known, settings.as_of_date())
        con.execute(f"CREATE OR REPLACE TEMP TABLE _returns AS SELECT d.*, {ROW_HASH} AS _row_sha256 "
                    f"FROM {RETURNS_TABLE} d")
        con.register("_passed_before", passed_before(con, stamp))
        # whole returns: every row of a return with any row not checked (a rule compares the rows of one file)
        rows = con.execute(
            "SELECT * EXCLUDE (_row_sha256) FROM _returns WHERE submission_ref IS NULL OR submission_ref IN ("
            "SELECT submission_ref FROM _returns ANTI JOIN _passed_before USING (_row_sha256)) "
            "ORDER BY organisation_code, reporting_quarter").df()
        con.unregister("_passed_before")
        total = con.execute("SELECT count(*) FROM _returns").fetchall()[0][0]
        metadata = {**arrived, "returns checked": len(rows), "returns passed before, unchanged": total - len(rows)}
        if not len(rows):
            record_every_row_passed(con, stamp, "_returns")
            return dg.AssetCheckResult(passed=True, metadata={**metadata, "problems": 0})
        from checks.return_gx import validate_rows  # Great Expectations (seconds to import): only with rows to check

        problems, run = validate_rows(rows, known, settings.as_of_date())
        if run.passed and not problems:
            record_every_row_passed(con, stamp, "_returns")
    metadata["problems"] = len(problems)
    if problems:
        metadata["examples"] = dg.MetadataValue.md("\n".join(f"- {p.describe()}" for p in problems[:SAMPLE_ROWS]))
    failed = run.failed_lines()
    metadata |= {
        "great expectations suite": run.suite,
        "expectations evaluated": run.evaluated,
        "expectations failed": len(failed),
        "failed expectations": dg.MetadataValue.md("\n".join(f"- {line}" for line in failed) or "_none_"),
        "validation seconds": round(run.seconds, 2),
    }
    # GX's verdict, from its own severities: a critical expectation failed. Every such failure is also a problem.
    return dg.AssetCheckResult(passed=run.passed, metadata=metadata)


RETURN_RULES = [
    Rule(("audit", "return_submissions"), "rejected_returns_put_right",
         "Every rejected return has been followed by an accepted one for the same organisation and quarter (for a "
         "file whose quarter could not be read, by any later accepted return from the same organisation).",
         "SELECT s.submission_ref, s.organisation_code, s.reporting_quarter, s.file_name, s.summary "
         "FROM audit.return_submissions s WHERE s.status = 'rejected' AND NOT EXISTS (SELECT 1 FROM "
         "staging.department_returns r WHERE r.organisation_code = s.organisation_code "
         "AND (s.reporting_quarter IS NULL OR r.reporting_quarter = s.reporting_quarter) "
         "AND r.received_at > s.received_at) "
         "ORDER BY s.received_at DESC", WARN),
    Rule(("marts", "return_plausibility"), "returns_plausible_quarter_on_quarter",
         f"No returned figure falls or rises by more than {PLAUSIBLE_CHANGE_SHARE:.0%} (and by more than "
         f"{PLAUSIBLE_CHANGE_MINIMUM}) from the organisation's previous quarter.",
         "SELECT organisation_code, platform, measure, previous_quarter, previous_value, reporting_quarter, value "
         "FROM marts.return_plausibility WHERE implausible "
         "ORDER BY abs(change) DESC, organisation_code, platform, measure, reporting_quarter", WARN),
    Rule(("marts", "return_reconciliation"), "returns_reconcile_with_pay",
         f"Reported live GOV.UK Pay services agree with GOV.UK Pay's own count for the same organisation within "
         f"{RECONCILIATION_SHARE:.0%} or {RECONCILIATION_MINIMUM} service, whichever is larger.",
         "SELECT organisation_code, reporting_quarter, reported_live, published_live, published_date, difference "
         "FROM marts.return_reconciliation WHERE beyond_tolerance", WARN),
    Rule(("marts", "return_reconciliation"), "returns_pay_adoption_at_most_100_percent",
         "GOV.UK Pay's own count of an organisation's live services is not above the services in scope it "
         "reported (which would put adoption above 100%).",
         "SELECT organisation_code, reporting_quarter, reported_in_scope, published_live "
         "FROM marts.return_reconciliation WHERE published_above_in_scope", WARN),
    Rule(("marts", "returns_status"), "returns_complete_for_current_quarter",
         "Every expected organisation has returned for the latest quarter once its deadline has passed "
         "(deadline and expected organisations: data/returns/schedule.yaml).",
         "SELECT organisation_code, organisation_name, reporting_quarter, deadline, status "
         "FROM marts.returns_status WHERE is_current_quarter AND needs_chasing", WARN),
]

return_checks = [department_returns_meet_contract, *(check_from_rule(rule) for rule in RETURN_RULES)]
