"""The one dictionary of what people see as a column's heading, and how its cells are shown.

Every table the dashboard shows, every chart's table view and every CSV download takes its headings
from here: a column name such as ``reporting_quarter`` is never shown to people. Each entry also says
what kind of values the column holds, which decides how they are shown (see dashboard/formatting.py):

- ``text``, ``code``, ``status``: as they are
- ``count``: whole numbers with thousands separators; ``number``: up to two decimal places
- ``money``: pounds, whole numbers with thousands separators
- ``share``: a fraction from 0 to 1, shown as a per cent ("53.3%")
- ``percent``: already in per cent (0 to 100), shown with a % sign
- ``date``: "22 Dec 2025"; ``month``: "Dec 2025"; ``timestamp``: "22 Dec 2025, 14:05" (UK time)
- ``flag``: true or false, shown as "Yes" or "No"
- ``link``: a link within the dashboard

``blank`` says what an empty cell means (shown as "–", with the meaning in the heading's help), and
``data_date`` marks the dates a figure is for, which are never later than their source's latest figure.

A column that is not in the dictionary is still shown (with a heading made from its name), but
tests/test_dashboard_readable.py fails and names it: add it here when a mart gains a column.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("text", "code", "status", "count", "number", "money", "share", "percent", "date", "month", "timestamp",
         "flag", "link")


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "text"
    blank: str | None = None  # what an empty cell means
    data_date: bool = False  # a date a figure is for: never after its source's latest figure
    width: str | None = None  # "small", "medium" or "large" in tables; None lets the table choose


def _c(label: str, kind: str = "text", blank: str | None = None, **more) -> Column:
    return Column(label, kind, blank, **more)


COLUMNS: dict[str, Column] = {
    # ------------------------------------------------------------ organisations and departments
    "department": _c("Department"),
    "department_name": _c("Department", blank="not part of a department"),
    "department_code": _c("Department code", "code"),
    "organisation_name": _c("Organisation"),
    "organisation_code": _c("Organisation code", "code"),
    "organisation_type": _c("Kind of organisation", blank="not recorded"),
    "is_department": _c("Is the department itself", "flag"),
    "kind": _c("Kind of organisation"),
    "open": _c("Department page", "link"),
    "platform": _c("Platform"),
    "platforms": _c("Platforms", blank="none: reference data or returns"),
    "sector": _c("Sector"),
    # ------------------------------------------------------------ figures over time
    "date": _c("Date", "date", data_date=True),
    "point_date": _c("Date", "date", blank="no date: no baseline or no forecast"),
    "month": _c("Month", "month", data_date=True),
    "measure": _c("Measure"),
    "series": _c("Series"),
    "value": _c("Figure", "number", blank="no figure"),
    "year": _c("Year"),
    "last_version": _c("Latest figure in the month", "date", data_date=True),
    "live_services": _c("Live services", "count"),
    "organisations": _c("Organisations", "count"),
    "payments_in_month": _c("Payments in the month", "count", blank="not published for this month"),
    "amount_gbp_in_month": _c("Value of payments in the month (£)", "money", blank="not published for this month"),
    # ------------------------------------------------------------ platform headlines and movers
    "latest_value": _c("Latest figure", "number", blank="no figure yet"),
    "latest_date": _c("Date of latest figure", "date", blank="no figure yet", data_date=True),
    "first_date": _c("Date of first figure", "date", blank="no figures: reference data or returns",
                     data_date=True),
    "value_then": _c("Figure 12 months before", "count", blank="no figure then"),
    "value_now": _c("Latest figure", "count", blank="no figure now"),
    "change": _c("Change", "count"),
    "base_month": _c("From month", "month", data_date=True),
    "latest_month": _c("To month", "month", data_date=True),
    # ------------------------------------------------------------ the league table
    "platforms_used": _c("Platforms used (of 4)", "count"),
    "pay_live_services": _c("GOV.UK Pay live services", "count", blank="none"),
    "one_login_services": _c("GOV.UK One Login services", "count", blank="none"),
    "apis_published": _c("APIs published", "count", blank="none"),
    "notify_agreements_signed_2019": _c("GOV.UK Notify agreements (2019)", "count", blank="none"),
    "notify_live_services": _c("GOV.UK Notify live services", "count",
                               blank="not in the Notify document the tracker last fetched, or none fetched yet"),
    "notify_live_date": _c("GOV.UK Notify figures fetched", "date", blank="none fetched yet"),
    "notify_agreement_signed_2019": _c("Signed the GOV.UK Notify agreement (2019)", "flag",
                                       blank="not on the 2019 register"),
    "returned_adoption_rate": _c("Adoption rate from returns", "share", blank="no accepted return"),
    "returned_quarter": _c("Latest quarter returned", blank="no accepted return"),
    "one_login_plan": _c("GOV.UK One Login plan", "status"),
    "pay_and_notify": _c("Uses GOV.UK Pay and Notify", "status"),
    "data_sharing": _c("Data sharing", "status"),
    "own_return_status": _c("Own return, current quarter", "status"),
    "organisations_to_chase": _c("Organisations to chase", "count"),
    "reconciliation_differences": _c("Returned Pay figures that differ", "count"),
    "pay_names": _c("Names on GOV.UK Pay", blank="not on GOV.UK Pay"),
    # ------------------------------------------------------------ returns
    "reporting_quarter": _c("Quarter"),
    "quarter_end": _c("Quarter ends", "date"),
    "current_quarter": _c("Current quarter"),
    "in_scope": _c("Services in scope", "count", blank="not reported"),
    "live": _c("Services live", "count", blank="not reported"),
    "planned": _c("Services planned (next 4 quarters)", "count", blank="not reported"),
    "not_yet_live": _c("Services not yet live", "count", blank="not reported"),
    "adoption_rate": _c("Adoption rate", "share", blank="no services in scope"),
    "reported_by": _c("Reported by"),
    "is_illustrative": _c("ILLUSTRATIVE sample", "flag"),
    "uses_illustrative_data": _c("Uses ILLUSTRATIVE samples", "flag"),
    "expected_departments": _c("Departments expected", "count"),
    "departments_returned": _c("Departments that returned", "count"),
    "departments_with_plan": _c("Departments with a plan", "count"),
    "departments_with_plan_share": _c("Share with a plan", "share", blank="no department expected"),
    "forms_total": _c("Forms", "count", blank="not reported"),
    "forms_online": _c("Forms online", "count", blank="not reported"),
    "forms_paper_only": _c("Forms on paper only", "count", blank="not reported"),
    "forms_online_share": _c("Share online", "share", blank="no forms reported"),
    "organisations_reporting": _c("Organisations reporting", "count"),
    "data_sharing_agreements": _c("Data sharing agreements", "count", blank="not reported"),
    "submission_ref": _c("Reference", "code", blank="nothing received"),
    "file_name": _c("File", blank="shown only to the organisation that sent it and to CDDO"),
    "received_at": _c("Received (UK time)", "timestamp", blank="not received"),
    "status": _c("Status", "status"),
    "summary": _c("What happened", blank="shown only to the organisation that sent it and to CDDO"),
    "is_current": _c("Current", "flag"),
    "sees_values": _c("What was sent is shown to you", "flag"),
    "is_superseded": _c("Replaced by a later return", "flag"),
    "duplicate_of": _c("Copy of", "code", blank="not a copy"),
    "channel": _c("Sent through"),
    "after_reporting_date": _c("Received after the reporting date", "flag"),
    "sender": _c("Sent by", blank="not recorded"),
    "on_behalf_reason": _c("Reason sent on the department's behalf", blank="not sent on its behalf"),
    "deadline": _c("Deadline", "date", blank="no deadline"),
    "days_late": _c("Days late", "count"),
    "needs_chasing": _c("To chase", "flag"),
    "submissions": _c("Returns sent", "count"),
    "rejected_submissions": _c("Returns rejected", "count"),
    "last_status": _c("Latest return's status", "status", blank="nothing received"),
    "last_summary": _c("Latest return", blank="nothing received, or shown only to the organisation and to CDDO"),
    "row_number": _c("Row", "count"),
    "column_letter": _c("Column", "code"),
    "column_name": _c("Column heading in the file", "code"),
    "value_sent": _c("Value sent", blank="empty in the file"),
    "rule": _c("Rule"),
    "message": _c("Problem and how to fix it"),
    "problems": _c("Problems", "count"),
    "returns": _c("Returns", "count"),
    "still_current": _c("Still current", "flag"),
    # ------------------------------------------------------------ reconciliation
    "reported_live": _c("Live services returned", "count"),
    "published_live": _c("Live services on GOV.UK Pay", "count", blank="not on GOV.UK Pay"),
    "difference": _c("Difference", "count", blank="nothing to compare"),
    "tolerance": _c("Tolerance", "number"),
    "outcome": _c("Outcome", "status"),
    "published_names": _c("Names on GOV.UK Pay", blank="not on GOV.UK Pay"),
    "published_date": _c("GOV.UK Pay figures dated", "date", blank="not on GOV.UK Pay", data_date=True),
    # ------------------------------------------------------------ one department: who to ask
    "peer_measure": _c("Measure"),
    "peer_department": _c("Department"),
    "peer_figure": _c("Their figure"),
    "own_figure": _c("This department"),
    # ------------------------------------------------------------ skills and barriers
    "as_at": _c("As at", "date", data_date=True),
    "ddat_headcount": _c("DDaT profession (headcount)", "count", blank="suppressed (fewer than 5)"),
    "total_headcount": _c("Civil servants (headcount)", "count", blank="suppressed (fewer than 5)"),
    "ddat_share_pct": _c("DDaT share", "percent", blank="not known: a figure was suppressed"),
    "unknown_profession_share_pct": _c("Staff with no recorded profession", "percent", blank="not known"),
    "low_coverage": _c("Low coverage (over 20% with no recorded profession)", "flag"),
    "mapping_note": _c("Note on the department", blank="nothing to note"),
    "successor_departments": _c("Successor departments", blank="none"),
    "name_as_published": _c("Name as published"),
    "definition": _c("What it counts"),
    "first_year": _c("Earliest year"),
    "first_share_pct": _c("DDaT share, earliest year", "percent", blank="not known: a figure was suppressed"),
    "latest_year": _c("Latest year"),
    "share_change_points": _c("Change (percentage points)", "number"),
    "low_coverage_years": _c("Low-coverage years", blank="none"),
    "subject": _c("About"),
    "wording": _c("As published"),
    "stated_for": _c("Date it describes", "date"),  # a statement's date, not a tracker source's data date
    "as_at_precision": _c("Date stated to the"),
    "said_by": _c("Said by"),
    "tracker_value": _c("Tracker's figure", "number", blank="not compared"),
    "tracker_date": _c("Tracker's figure dated", "date", blank="not compared", data_date=True),
    "figure_difference": _c("Published minus tracker", "number", blank="not compared"),
    "difference_pct": _c("Difference (% of tracker's)", "number", blank="not compared"),
    "comparison": _c("Comparison"),
    "survey": _c("Survey"),
    "period": _c("When"),
    "finding": _c("Finding"),
    "percent": _c("Share, as worded"),
    "sample": _c("Sample", blank="not stated"),
    "survey_source": _c("Source"),
    "barrier": _c("Barrier"),
    "departments_naming": _c("Departments naming it", "count"),
    "organisations_naming": _c("Organisations naming it", "count"),
    "organisations_reporting_skills": _c("Organisations reporting skills", "count"),
    "skills_reported": _c("Skills section"),
    "ddat_staff_fte": _c("DDaT staff (FTE)", "number", blank="skills not reported"),
    "ddat_vacancies": _c("DDaT vacancies", "count", blank="skills not reported"),
    "senior_civil_servants": _c("Senior civil servants", "count", blank="skills not reported"),
    "senior_civil_servants_trained": _c("Senior civil servants trained in the quarter", "count",
                                        blank="skills not reported"),
    "main_barriers": _c("Main barriers (in order)", blank="skills not reported"),
    "contract_version": _c("Template version", "code"),
    # ------------------------------------------------------------ targets
    "title": _c("Target"),
    "strategy": _c("Set by"),
    "unit": _c("Unit"),
    "baseline": _c("Baseline", "number", blank="no baseline"),
    "baseline_date": _c("Baseline date", "date", blank="no baseline"),
    "target": _c("Target figure", "number", blank="not a number: a whole population"),
    "trajectory_today": _c("Trajectory says today", "number", blank="no trajectory"),
    "forecast_date": _c("Forecast to reach it", "date", blank="no forecast"),
    "forecast_basis": _c("Forecast basis", blank="no figure to forecast from"),
    "status_note": _c("Note", blank="nothing to add"),
    "source_note": _c("Published in"),
    "source_url": _c("Link to source"),
    # ------------------------------------------------------------ sources and checks
    "source": _c("Source key", "code"),
    "name": _c("Source"),
    "source_name": _c("Source"),
    "publisher": _c("Publisher"),
    "origin": _c("Where the files come from"),
    "cadence": _c("Updated"),
    "fresh_within_days": _c("Fresh within (days)", "count", blank="not judged: no longer published or returns"),
    "closed_note": _c("Why it stopped", blank="still published"),
    "days_old": _c("Latest figure's age (days before the reporting date)", "count", blank="no figures"),
    "alerted_at": _c("Alerted (UK time)", "timestamp"),
    "alert_kind": _c("Alert"),
    "alert_subject": _c("About"),
    "alert_message": _c("What happened"),
    "webhook_outcome": _c("Sent to the webhook"),
    "last_built_at": _c("Tracker last built it (UK time)", "timestamp",
                        blank="not built as a feed: each return is built when it arrives"),
    "last_tried_at": _c("Tracker last read it (UK time)", "timestamp",
                        blank="not read as a feed: each return is read when it arrives"),
    "freshness": _c("Freshness", "status"),
    "files_kept": _c("Files kept", "count"),
    "files_listed": _c("Files read", "count"),
    "bytes_kept": _c("Bytes kept", "count"),
    "last_stored_at": _c("Last file stored (UK time)", "timestamp", blank="nothing stored"),
    "newest_file": _c("Newest file", blank="no file"),
    "newest_file_sha256": _c("Newest file's SHA-256", "code", blank="no file"),
    "shipped_as": _c("Read from"),
    "feed_status": _c("Latest run read it"),
    "files_left_out": _c("Files left out", "count"),
    "feed_problem_summary": _c("What could not be read", blank="everything was read"),
    "problem": _c("What is wrong"),
    "consequence": _c("What the tracker did"),
    "found_at": _c("Found (UK time)", "timestamp"),
    "sha256": _c("SHA-256 of the file", "code", blank="no single file"),
    "data_date": _c("Figures as of", "date", data_date=True),
    "fetched_at": _c("Fetched by the tracker", "timestamp"),
    "counted": _c("What the figure counts"),
    "normalisations": _c("Values read leniently", blank="none"),
    "definition_note": _c("Change of definition", blank="none"),
    "is_partial": _c("Partial period", "flag"),
    "data_to": _c("Figures to", "date", data_date=True),
    "check_name": _c("Check", "code"),
    "asset": _c("Checks the table", "code"),
    "description": _c("What it checks"),
    "severity": _c("Severity"),
    "blocking": _c("Blocks what follows", "flag"),
    "rows_breaking": _c("Rows breaking it", "count", blank="not counted"),
    "evaluated_at": _c("Checked (UK time)", "timestamp", blank="not run"),
    "run_id": _c("Pipeline run", "code"),
    "dimension": _c("Dimension"),
    "numerator": _c("Passing", "count"),
    "denominator": _c("Judged", "count"),
    "score": _c("Score", "share", blank="nothing to judge"),
    "detail": _c("What it covers"),
    # ------------------------------------------------------------ matching organisation names
    "snapshot_date": _c("Snapshot", "date", blank="no dated snapshot", data_date=True),
    "organisation_names": _c("Organisation names", "count"),
    "matched_names": _c("Names matched", "count"),
    "services": _c("Services", "count", blank="not counted"),
    "matched_services": _c("Services matched", "count", blank="not counted"),
    "outside_govuk_services": _c("Services of bodies outside GOV.UK", "count", blank="not counted"),
    "unmatched_services": _c("Services not matched", "count", blank="not counted"),
    "matched_share": _c("Share matched", "share", blank="nothing to match"),
    "matched_share_excluding_outside": _c("Share matched of those that could be", "share", blank="nothing to match"),
}


def column(name: str) -> Column:
    """The entry for a column; one missing from the dictionary gets a heading made from its name (and a test
    fails, naming it)."""
    found = COLUMNS.get(name)
    if found is not None:
        return found
    return Column(name.replace("_", " ").capitalize())


def label(name: str) -> str:
    return column(name).label
