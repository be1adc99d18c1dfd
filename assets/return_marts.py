"""Marts from departments' returns: status, adoption, forms, reconciliation, plausibility, data quality.

Each is one DuckDB query over staging, rebuilt whole. The thresholds (how
big a quarter-on-quarter change is implausible, how far a reported figure may
differ from GOV.UK Pay's own) come from ``checks/return_contract.py`` as bound
parameters, so the marts, the asset checks and the dashboard agree.
"""

from __future__ import annotations

from assets.marts import Mart, mart_asset
from checks.return_contract import PLATFORMS

# One organisation's accepted return per quarter, with its department and the quarter's dates.
ORGANISATIONS_CTE = "orgs AS (SELECT * FROM staging.organisations WHERE organisation_code IS NOT NULL)"
RETURNS_CTE = f"""
{ORGANISATIONS_CTE},
returns AS (
    SELECT r.*, o.name AS organisation_name, o.organisation_slug, o.department_slug,
           o.department_name, o.department_code, q.quarter_index, q.quarter_start, q.quarter_end, q.deadline
    FROM staging.department_returns r
    LEFT JOIN orgs o ON o.organisation_code = r.organisation_code
    LEFT JOIN staging.reporting_quarters q ON q.reporting_quarter = r.reporting_quarter
)"""

_PLATFORM_ROWS = "\n    UNION ALL ".join(
    f"SELECT organisation_code, reporting_quarter, '{p.name}' AS platform, {p.key}_services_in_scope AS in_scope, "
    f"{p.key}_services_live AS live, {p.key}_services_planned AS planned, {p.key}_transactions AS transactions "
    "FROM returns"
    for p in PLATFORMS
)

# Organisation rows as returned, plus department rows summed over the department and its agencies.
RETURN_ADOPTION_SQL = f"""
WITH {RETURNS_CTE},
by_platform AS (
    {_PLATFORM_ROWS}
),
organisation_rows AS (
    SELECT 'organisation' AS level, r.organisation_code, r.organisation_name, r.department_code, r.department_name,
           r.reporting_quarter, r.quarter_end, b.platform, b.in_scope, b.live, b.planned, b.transactions,
           1 AS organisations_reporting, r.organisation_name AS reported_by, r.is_illustrative
    FROM by_platform b JOIN returns r USING (organisation_code, reporting_quarter)
    WHERE b.in_scope IS NOT NULL
),
department_rows AS (
    SELECT 'department', department_code, department_name, department_code, department_name,
           reporting_quarter, quarter_end, platform, sum(in_scope), sum(live), sum(planned), sum(transactions),
           count(*), string_agg(organisation_name, '; ' ORDER BY organisation_name), bool_or(is_illustrative)
    FROM organisation_rows GROUP BY ALL
)
SELECT *, round(live / nullif(in_scope, 0), 4) AS adoption_rate,
       in_scope - live AS not_yet_live
FROM (SELECT * FROM organisation_rows UNION ALL SELECT * FROM department_rows)
ORDER BY level, department_name, organisation_name, platform, quarter_end
"""

RETURN_FORMS_SQL = f"""
WITH {RETURNS_CTE},
rows AS (
    SELECT 'organisation' AS level, organisation_code, organisation_name, department_code, department_name,
           reporting_quarter, quarter_end, forms_total, forms_online, forms_paper_only,
           data_sharing_agreements, apis_published, 1 AS organisations_reporting, is_illustrative
    FROM returns
)
SELECT *, round(forms_online / nullif(forms_total, 0), 4) AS forms_online_share FROM (
    SELECT * FROM rows
    UNION ALL
    SELECT 'department', department_code, department_name, department_code, department_name, reporting_quarter,
           quarter_end, sum(forms_total), sum(forms_online), sum(forms_paper_only), sum(data_sharing_agreements),
           sum(apis_published), count(*), bool_or(is_illustrative)
    FROM rows GROUP BY ALL
    UNION ALL
    SELECT 'all returning organisations', NULL, 'All returning organisations', NULL, NULL, reporting_quarter,
           quarter_end, sum(forms_total), sum(forms_online), sum(forms_paper_only), sum(data_sharing_agreements),
           sum(apis_published), count(*), bool_or(is_illustrative)
    FROM rows GROUP BY ALL
)
ORDER BY level, department_name, organisation_name, quarter_end
"""

# Every expected organisation (and any other that sent a return) for every quarter since returns began.
RETURNS_STATUS_SQL = f"""
WITH {ORGANISATIONS_CTE},
submissions AS (SELECT * FROM audit.return_submissions WHERE status <> 'duplicate'),
first_quarter AS (
    SELECT coalesce(min(q.quarter_index), (SELECT quarter_index FROM staging.reporting_quarters WHERE is_latest_ended))
           AS quarter_index
    FROM submissions s JOIN staging.reporting_quarters q USING (reporting_quarter)
),
quarters AS (
    SELECT q.* FROM staging.reporting_quarters q, first_quarter f
    WHERE q.quarter_index >= f.quarter_index AND q.has_ended
),
organisations AS (
    SELECT organisation_code, true AS expected FROM staging.return_expected_submitters
    UNION SELECT DISTINCT organisation_code, false FROM submissions
    WHERE organisation_code NOT IN (SELECT organisation_code FROM staging.return_expected_submitters)
),
tried AS (
    SELECT coalesce(return_organisation_code, organisation_code) AS organisation_code, reporting_quarter,
           count(*) AS submissions, count(*) FILTER (WHERE status = 'rejected') AS rejected_submissions,
           max(received_at) AS last_received_at,
           arg_max(status, received_at) AS last_status, arg_max(summary, received_at) AS last_summary
    FROM submissions WHERE reporting_quarter IS NOT NULL GROUP BY ALL
)
SELECT g.organisation_code, o.name AS organisation_name, o.department_code, o.department_name, g.expected,
       q.reporting_quarter, q.quarter_end, q.deadline, q.is_latest_ended AS is_current_quarter,
       CASE WHEN r.submission_ref IS NOT NULL AND r.received_at::DATE <= q.deadline THEN 'received'
            WHEN r.submission_ref IS NOT NULL THEN 'received late'
            WHEN t.rejected_submissions > 0 AND q.deadline_passed THEN 'rejected, overdue'
            WHEN t.rejected_submissions > 0 THEN 'rejected, resubmission due'
            WHEN q.deadline_passed THEN 'missing'
            ELSE 'due' END AS status,
       r.received_at, r.submission_ref, r.is_illustrative,
       greatest(date_diff('day', q.deadline, coalesce(r.received_at::DATE, $as_of::DATE)), 0) AS days_late,
       coalesce(t.submissions, 0) AS submissions, coalesce(t.rejected_submissions, 0) AS rejected_submissions,
       t.last_status, t.last_summary,
       g.expected AND r.submission_ref IS NULL AND q.deadline_passed AS needs_chasing,
       $as_of::DATE AS as_of
FROM organisations g CROSS JOIN quarters q
LEFT JOIN orgs o ON o.organisation_code = g.organisation_code
LEFT JOIN staging.department_returns r ON r.organisation_code = g.organisation_code
     AND r.reporting_quarter = q.reporting_quarter
LEFT JOIN tried t ON t.organisation_code = g.organisation_code AND t.reporting_quarter = q.reporting_quarter
WHERE g.expected OR r.submission_ref IS NOT NULL OR t.submissions > 0
ORDER BY q.quarter_end DESC, needs_chasing DESC, o.department_name, o.name
"""

# Reported live Pay services against GOV.UK Pay's own count for the same organisation, at the
# last Pay version on or before the quarter's end (if it is within a month of it).
RETURN_RECONCILIATION_SQL = f"""
WITH {RETURNS_CTE},
versions AS (SELECT DISTINCT date_updated FROM staging.pay_organisation_services),
pay_version AS (
    SELECT r.organisation_code, r.reporting_quarter, max(v.date_updated) AS pay_date
    FROM returns r JOIN versions v ON v.date_updated <= r.quarter_end
         AND v.date_updated > r.quarter_end - INTERVAL 31 DAY
    GROUP BY ALL
),
published AS (
    SELECT pv.organisation_code, pv.reporting_quarter, pv.pay_date,
           coalesce(sum(p.live_services), 0) AS published_live,
           string_agg(DISTINCT p.organisation_name, '; ') AS published_names
    FROM pay_version pv
    JOIN returns r USING (organisation_code, reporting_quarter)
    LEFT JOIN staging.organisation_matches m ON m.platform = 'GOV.UK Pay' AND m.organisation_slug = r.organisation_slug
    LEFT JOIN staging.pay_organisation_services p
           ON p.date_updated = pv.pay_date AND p.organisation_name = m.platform_name
    GROUP BY ALL
)
SELECT r.organisation_code, r.organisation_name, r.department_code, r.department_name, r.reporting_quarter,
       r.quarter_end, 'GOV.UK Pay' AS platform, r.pay_services_in_scope AS reported_in_scope,
       r.pay_services_live AS reported_live, p.pay_date AS published_date, p.published_live, p.published_names,
       r.pay_services_live - p.published_live AS difference,
       greatest($reconciliation_minimum, $reconciliation_share * p.published_live) AS tolerance,
       p.published_live IS NOT NULL
         AND abs(r.pay_services_live - p.published_live) > greatest($reconciliation_minimum,
                                                                  $reconciliation_share * p.published_live)
         AS beyond_tolerance,
       p.published_live > r.pay_services_in_scope AS published_above_in_scope,
       CASE WHEN p.published_live IS NULL THEN 'no GOV.UK Pay figure within a month of the quarter end'
            WHEN abs(r.pay_services_live - p.published_live) > greatest($reconciliation_minimum,
                                                                      $reconciliation_share * p.published_live)
            THEN 'differs beyond tolerance'
            ELSE 'agrees within tolerance' END AS outcome,
       r.is_illustrative
FROM returns r LEFT JOIN published p USING (organisation_code, reporting_quarter)
ORDER BY beyond_tolerance DESC, abs(difference) DESC NULLS LAST, r.organisation_name
"""

# Each figure against the same organisation's previous quarter.
RETURN_PLAUSIBILITY_SQL = f"""
WITH {RETURNS_CTE},
by_platform AS (
    {_PLATFORM_ROWS}
),
figures AS (
    SELECT organisation_code, reporting_quarter, platform, 'services in scope' AS measure, in_scope AS value
    FROM by_platform
    UNION ALL SELECT organisation_code, reporting_quarter, platform, 'services live', live FROM by_platform
    UNION ALL SELECT organisation_code, reporting_quarter, 'GOV.UK Forms', 'forms in total', forms_total FROM returns
    UNION ALL SELECT organisation_code, reporting_quarter, 'GOV.UK Forms', 'forms online', forms_online FROM returns
),
paired AS (
    SELECT r.organisation_code, r.organisation_name, r.department_name, f.platform, f.measure,
           r.reporting_quarter, p.reporting_quarter AS previous_quarter, pf.value AS previous_value, f.value,
           r.is_illustrative
    FROM figures f
    JOIN returns r USING (organisation_code, reporting_quarter)
    JOIN returns p ON p.organisation_code = r.organisation_code AND p.quarter_index = r.quarter_index - 1
    JOIN figures pf ON pf.organisation_code = p.organisation_code AND pf.reporting_quarter = p.reporting_quarter
         AND pf.platform = f.platform AND pf.measure = f.measure
    WHERE f.value IS NOT NULL AND pf.value IS NOT NULL
)
SELECT *, value - previous_value AS change,
       round((value - previous_value) / nullif(previous_value, 0), 4) AS change_share,
       abs(value - previous_value) > $plausible_change_minimum
         AND abs(value - previous_value) > $plausible_change_share * previous_value AS implausible
FROM paired
ORDER BY implausible DESC, abs(change) DESC, organisation_name
"""

# The share of expected departments whose return shows a One Login plan (live or planned > 0).
RETURN_DEPARTMENT_PLANS_SQL = f"""
WITH {RETURNS_CTE},
expected AS (
    SELECT e.organisation_code FROM staging.return_expected_submitters e
    JOIN orgs o ON o.organisation_code = e.organisation_code WHERE o.is_department
),
per_quarter AS (
    SELECT q.reporting_quarter, q.quarter_end, count(r.organisation_code) AS departments_returned,
           count(r.organisation_code) FILTER (WHERE r.one_login_services_live + r.one_login_services_planned > 0)
             AS departments_with_plan,
           coalesce(bool_or(r.is_illustrative), false) AS is_illustrative
    FROM staging.reporting_quarters q
    JOIN returns r ON r.reporting_quarter = q.reporting_quarter AND r.organisation_code IN (SELECT * FROM expected)
    GROUP BY ALL
)
SELECT p.reporting_quarter, p.quarter_end, e.expected_departments, p.departments_returned, p.departments_with_plan,
       round(p.departments_with_plan / nullif(e.expected_departments, 0), 4) AS departments_with_plan_share,
       p.is_illustrative
FROM per_quarter p CROSS JOIN (SELECT count(*) AS expected_departments FROM expected) e
ORDER BY p.quarter_end
"""

# The Government Data Quality Framework's dimensions, measured on the returns.
RETURN_DATA_QUALITY_SQL = """
WITH current_quarter AS (SELECT * FROM staging.reporting_quarters WHERE is_latest_ended),
status AS (SELECT * FROM marts.returns_status WHERE is_current_quarter AND expected),
submissions AS (SELECT * FROM audit.return_submissions),
accepted AS (
    SELECT r.*, q.deadline, q.deadline_passed FROM staging.department_returns r
    JOIN staging.reporting_quarters q USING (reporting_quarter)
),
measures AS (
    SELECT 'completeness' AS dimension, 'expected organisations that returned for the current quarter' AS measure,
           count(*) FILTER (WHERE status IN ('received', 'received late')) AS numerator, count(*) AS denominator,
           'quarter ' || any_value(reporting_quarter) || ', due ' || any_value(deadline) AS detail
    FROM status
    UNION ALL
    SELECT 'completeness', 'optional transaction figures given where services are live',
           (count(*) FILTER (WHERE pay_services_live > 0 AND pay_transactions IS NOT NULL)
            + count(*) FILTER (WHERE notify_services_live > 0 AND notify_transactions IS NOT NULL)
            + count(*) FILTER (WHERE one_login_services_live > 0 AND one_login_transactions IS NOT NULL)
            + count(*) FILTER (WHERE forms_services_live > 0 AND forms_transactions IS NOT NULL)),
           (count(*) FILTER (WHERE pay_services_live > 0) + count(*) FILTER (WHERE notify_services_live > 0)
            + count(*) FILTER (WHERE one_login_services_live > 0) + count(*) FILTER (WHERE forms_services_live > 0)),
           'all accepted returns'
    FROM accepted
    UNION ALL
    SELECT 'validity', 'submitted files that met the return contract',
           count(*) FILTER (WHERE status IN ('accepted', 'accepted with warnings')),
           count(*) FILTER (WHERE status <> 'duplicate'),
           count(*) FILTER (WHERE status = 'rejected') || ' rejected, with '
             || (SELECT count(*) FROM quarantine.return_problems) || ' problems in quarantine'
    FROM submissions
    UNION ALL
    SELECT 'uniqueness', 'files that were not an exact resend of an earlier file',
           count(*) FILTER (WHERE status <> 'duplicate'), count(*),
           count(*) FILTER (WHERE status = 'duplicate') || ' duplicates recorded and ignored; one set of figures '
             || 'per organisation and quarter'
    FROM submissions
    UNION ALL
    SELECT 'consistency', 'quarter-on-quarter changes within the plausible range',
           count(*) FILTER (WHERE NOT implausible), count(*),
           'more than ' || ($plausible_change_share * 100)::INTEGER || '% and more than '
             || $plausible_change_minimum || ' is implausible'
    FROM marts.return_plausibility
    UNION ALL
    SELECT 'timeliness', 'accepted returns received by their deadline',
           count(*) FILTER (WHERE received_at::DATE <= deadline), count(*),
           'returns for quarters whose deadline has passed'
    FROM accepted WHERE deadline_passed
    UNION ALL
    SELECT 'accuracy', 'reported live GOV.UK Pay services that agree with GOV.UK Pay''s own figures',
           count(*) FILTER (WHERE NOT beyond_tolerance), count(*),
           'within ' || ($reconciliation_share * 100)::INTEGER || '% or ' || $reconciliation_minimum
             || ' service; the only figure with a second source'
    FROM marts.return_reconciliation WHERE published_live IS NOT NULL
)
SELECT dimension, measure, numerator, denominator, round(numerator / nullif(denominator, 0), 4) AS score, detail,
       (SELECT reporting_quarter FROM current_quarter) AS current_quarter, $as_of::DATE AS as_of
FROM measures
"""

RETURN_PROBLEMS_SQL = """
SELECT s.submission_ref, s.organisation_code, o.name AS organisation_name, s.file_name, s.received_at,
       s.reporting_quarter, s.is_illustrative, p.row_number, p.column_letter, p.column_name, p.value, p.rule, p.message,
       s.submission_ref IN (SELECT submission_ref FROM staging.department_returns) AS is_current
FROM quarantine.return_problems p
JOIN audit.return_submissions s USING (submission_ref)
LEFT JOIN staging.organisations o ON o.organisation_code = s.organisation_code
ORDER BY s.received_at DESC, p.row_number NULLS FIRST
"""

RETURN_SUBMISSIONS_SQL = """
SELECT s.submission_ref, s.organisation_code, o.name AS organisation_name, o.department_name, s.file_name, s.channel,
       s.is_illustrative, s.received_at, s.processed_at, s.reporting_quarter, s.status, s.problem_count,
       s.warning_count, s.summary, s.warnings, s.duplicate_of,
       s.submission_ref IN (SELECT submission_ref FROM staging.department_returns) AS is_current,
       s.status IN ('accepted', 'accepted with warnings')
         AND s.submission_ref NOT IN (SELECT submission_ref FROM staging.department_returns) AS is_superseded
FROM audit.return_submissions s
LEFT JOIN staging.organisations o ON o.organisation_code = s.organisation_code
ORDER BY s.received_at DESC
"""

RETURN_BASE = ["staging.department_returns", "staging.organisations", "staging.reporting_quarters"]
RETURN_MARTS = {
    "marts.return_adoption": Mart(RETURN_ADOPTION_SQL, "Adoption from returns per organisation and per department "
                                  "(the department and its agencies summed) for each platform and quarter: services "
                                  "in scope, live, planned, transactions, and adoption rate (live / in scope).",
                                  RETURN_BASE),
    "marts.return_forms": Mart(RETURN_FORMS_SQL, "Forms (total, online, paper only, online share) and data sharing "
                               "(agreements, APIs) from returns, per organisation, department and in all.",
                               RETURN_BASE),
    "marts.returns_status": Mart(RETURNS_STATUS_SQL, "Per expected organisation and quarter since returns began: "
                                 "received, received late, rejected, missing or due; when; and whether to chase.",
                                 ["staging.department_returns", "staging.organisations", "staging.reporting_quarters",
                                  "staging.return_expected_submitters", "audit.return_submissions"]),
    "marts.return_reconciliation": Mart(RETURN_RECONCILIATION_SQL, "Reported live GOV.UK Pay services against "
                                        "GOV.UK Pay's own count for the same organisation at the quarter's end, with "
                                        "the tolerance from checks/return_contract.py.",
                                        [*RETURN_BASE, "staging.pay_organisation_services",
                                         "staging.organisation_matches"]),
    "marts.return_plausibility": Mart(RETURN_PLAUSIBILITY_SQL, "Every returned figure against the same "
                                      "organisation's previous quarter, flagged when the change is implausible.",
                                      RETURN_BASE),
    "marts.return_department_plans": Mart(RETURN_DEPARTMENT_PLANS_SQL, "Per quarter, the share of expected "
                                          "departments whose return shows a GOV.UK One Login plan (live or planned).",
                                          [*RETURN_BASE, "staging.return_expected_submitters"]),
    "marts.return_data_quality": Mart(RETURN_DATA_QUALITY_SQL, "The returns measured on the Government Data "
                                      "Quality Framework's dimensions: completeness, validity, uniqueness, "
                                      "consistency, timeliness and accuracy.",
                                      ["marts.returns_status", "marts.return_plausibility",
                                       "marts.return_reconciliation", "audit.return_submissions",
                                       "quarantine.return_problems", "staging.department_returns"]),
    "marts.return_problems": Mart(RETURN_PROBLEMS_SQL, "Every problem that stopped a return (quarantine), with the "
                                  "submission, row, column, value as sent and the message.",
                                  ["quarantine.return_problems", "audit.return_submissions",
                                   "staging.organisations", "staging.department_returns"]),
    "marts.return_submissions": Mart(RETURN_SUBMISSIONS_SQL, "Every return file received and its outcome, "
                                     "newest first, with which submissions are current and which superseded.",
                                     ["audit.return_submissions", "staging.organisations",
                                      "staging.department_returns"]),
}

return_mart_assets = [mart_asset(table, mart) for table, mart in RETURN_MARTS.items()]
