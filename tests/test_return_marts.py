"""Returns marts and checks on the demo's illustrative samples (as of 2026-01-31: 2025-26 Q3 due 30 Jan)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import duckdb
import pytest

from tests.conftest import DATA


def check_result(built, name):
    return next(c for c in built["result"].get_asset_check_evaluations() if c.check_name == name)


def sample_value(file_name: str, column: str) -> int:
    rows = list(csv.DictReader(io.StringIO((DATA / "returns" / "samples" / file_name).read_text("utf-8-sig"))))
    return int(rows[0][column])


def test_reconciliation_flags_only_the_deliberate_difference(built, warehouse):
    rows = warehouse.execute("SELECT organisation_code, reporting_quarter, reported_live, published_live, difference "
                             "FROM marts.return_reconciliation WHERE beyond_tolerance").fetchall()
    reported = sample_value("ILLUSTRATIVE_EA74_2025-26_Q3.csv", "pay_services_live")
    published, = warehouse.execute(  # GOV.UK Pay's own figure for DVLA on 22 Dec 2025, read independently
        "SELECT sum(p.live_services) FROM staging.pay_organisation_services p JOIN staging.organisation_matches m "
        "ON m.platform = 'GOV.UK Pay' AND m.platform_name = p.organisation_name "
        "WHERE m.organisation_slug = 'driver-and-vehicle-licensing-agency' AND p.date_updated = '2025-12-22'"
    ).fetchone()
    assert rows == [("EA74", "2025-26 Q3", reported, published, reported - published)]
    assert (reported, published) == (9, 6)
    check = check_result(built, "returns_reconcile_with_pay")
    assert not check.passed and check.metadata["rows breaking the rule"].value == 1


def test_each_return_is_compared_with_the_latest_pay_version_in_the_month_to_its_quarter_end(warehouse):
    """The version is worked out here in Python from Pay's own dates, not by the model's SQL: the newest dated within
    31 days up to the quarter's end, else none and the outcome says so."""
    dates = sorted(d for (d,) in warehouse.execute(
        "SELECT DISTINCT date_updated FROM staging.pay_organisation_services").fetchall())
    rows = warehouse.execute("SELECT quarter_end, published_date, published_live, outcome "
                             "FROM marts.return_reconciliation").fetchall()
    assert len(rows) == warehouse.execute("SELECT count(*) FROM staging.returns_in_context").fetchone()[0] > 0
    for quarter_end, published_date, published_live, outcome in rows:
        near = [d for d in dates if quarter_end - dt.timedelta(days=31) < d <= quarter_end]
        assert published_date == (near[-1] if near else None), quarter_end
        assert (published_live is None) == (not near)
        assert (outcome == "no GOV.UK Pay figure within a month of the quarter end") == (not near)


def test_adoption_rolls_agencies_up_to_their_department(warehouse):
    dft = warehouse.execute("SELECT in_scope, live, adoption_rate, reported_by FROM marts.return_adoption WHERE "
                            "level = 'department' AND department_code = 'D9' AND platform = 'GOV.UK Pay'").fetchall()
    assert dft == [(12, 9, 0.75, "Driver and Vehicle Licensing Agency")]
    moj = warehouse.execute("SELECT reporting_quarter, live, in_scope FROM marts.return_adoption WHERE level = "
                            "'department' AND department_code = 'D18' AND platform = 'GOV.UK Pay' ORDER BY 1"
                            ).fetchall()
    assert moj == [("2025-26 Q2", 10, 18), ("2025-26 Q3", 10, 18)]  # HMCTS, the corrected figure


def test_returns_status_for_the_current_quarter(built, warehouse):
    status = dict(warehouse.execute("SELECT organisation_code, status FROM marts.returns_status "
                                    "WHERE is_current_quarter").fetchall())
    assert status["D10"] == "received" and status["EA74"] == "received"
    assert status["EA199"] == "received late"  # 31 Jan, a day after the deadline
    assert status["D16"] == "rejected, overdue"
    assert sum(1 for s in status.values() if s == "missing") == 23 - 5
    check = check_result(built, "returns_complete_for_current_quarter")
    assert not check.passed and check.metadata["rows breaking the rule"].value == 23 - 4


def test_forms_online_share(warehouse):
    total, online, share = warehouse.execute(
        "SELECT forms_total, forms_online, forms_online_share FROM marts.return_forms "
        "WHERE level = 'all returning organisations' AND reporting_quarter = '2025-26 Q3'").fetchone()
    files = ["ILLUSTRATIVE_EA73_2025-26_Q3_corrected.csv", "ILLUSTRATIVE_EA74_2025-26_Q3.csv"]
    assert total == 420 + 260 + sum(sample_value(f, "forms_total") for f in files)  # + DWP (xlsx) and EA (cp1252)
    assert share == pytest.approx(online / total, abs=1e-4)


def test_data_quality_dimensions(warehouse):
    scores = {d: (n, t) for d, _, n, t in warehouse.execute(
        "SELECT dimension, measure, numerator, denominator FROM marts.return_data_quality").fetchall()
        if _ != "optional transaction figures given where services are live"}
    assert set(scores) == {"completeness", "validity", "uniqueness", "consistency", "timeliness", "accuracy"}
    assert scores["completeness"] == (4, 23)
    assert scores["validity"] == (8, 9)
    assert scores["uniqueness"] == (9, 10)
    assert scores["accuracy"] == (6, 7)
    assert scores["timeliness"] == (6, 7)


def test_contract_check_passes_and_plausibility_is_quiet(built):
    assert check_result(built, "department_returns_meet_contract").passed
    assert check_result(built, "returns_plausible_quarter_on_quarter").passed
    assert not check_result(built, "rejected_returns_put_right").passed  # the Home Office sample


def test_the_adoption_plan_target_is_measured_from_returns_and_labelled(warehouse):
    status, value, illustrative = warehouse.execute(
        "SELECT status, latest_value, uses_illustrative_data FROM marts.target_progress "
        "WHERE target_id = 'one-login-adoption-plans-2023'").fetchone()
    assert (status, illustrative) == ("missed", True)
    assert value == pytest.approx(100 / 19, abs=0.01)  # DWP of the 19 expected departments


def test_returns_are_published_with_the_snapshot(built):
    con = duckdb.connect(str(built["home"] / "published" / "tracker.duckdb"), read_only=True)
    try:
        for table in ("marts.returns_status", "marts.return_adoption", "marts.return_problems",
                      "marts.return_submissions", "marts.return_data_quality", "marts.return_skills",
                      "marts.return_barriers"):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0, table
        assert con.execute("SELECT count(*) FROM marts.return_problems WHERE organisation_code = 'D16'"
                           ).fetchone() == (2,)
    finally:
        con.close()


def sample_row(file_name: str) -> dict[str, str]:
    return next(csv.DictReader(io.StringIO((DATA / "returns" / "samples" / file_name).read_text("utf-8-sig"))))


SKILLS_COLUMNS = ["level", "organisation_code", "organisation_name", "department_code", "department_name",
                  "reporting_quarter", "contract_version", "skills_reported", "ddat_staff_fte", "ddat_vacancies",
                  "senior_civil_servants", "senior_civil_servants_trained", "main_barriers", "is_illustrative"]
BARRIERS_COLUMNS = ["reporting_quarter", "barrier", "barrier_order", "departments_naming", "organisations_naming",
                    "organisations_reporting_skills", "uses_illustrative_data"]


def test_the_skills_marts_have_exactly_the_agreed_columns_and_types(warehouse):
    """The dashboard is written against these names and types."""
    def described(table):
        return [(name, kind) for name, kind, *_ in warehouse.execute(f"DESCRIBE marts.{table}").fetchall()]

    assert described("return_skills") == list(zip(SKILLS_COLUMNS, [
        "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "INTEGER", "BOOLEAN", "DOUBLE", "BIGINT",
        "BIGINT", "BIGINT", "VARCHAR", "BOOLEAN"], strict=True))
    assert described("return_barriers") == list(zip(BARRIERS_COLUMNS, [
        "VARCHAR", "VARCHAR", "INTEGER", "BIGINT", "BIGINT", "BIGINT", "BOOLEAN"], strict=True))


def test_return_skills_per_organisation_from_the_samples(warehouse):
    rows = {(code, quarter): rest for code, quarter, *rest in warehouse.execute(
        "SELECT organisation_code, reporting_quarter, contract_version, skills_reported, ddat_staff_fte, "
        "ddat_vacancies, senior_civil_servants, senior_civil_servants_trained, main_barriers, is_illustrative "
        "FROM marts.return_skills WHERE level = 'organisation'").fetchall()}
    assert set(rows) == {("D10", "2025-26 Q2"), ("EA73", "2025-26 Q2"), ("EA199", "2025-26 Q2"),
                         ("D10", "2025-26 Q3"), ("EA73", "2025-26 Q3"), ("EA74", "2025-26 Q3"),
                         ("EA199", "2025-26 Q3")}
    hmcts = sample_row("ILLUSTRATIVE_EA73_2025-26_Q3_corrected.csv")
    assert rows[("EA73", "2025-26 Q3")] == [
        2, True, float(hmcts["ddat_staff_fte"]), int(hmcts["ddat_vacancies"]), int(hmcts["senior_civil_servants"]),
        int(hmcts["senior_civil_servants_trained"]), "legacy technology; other", True]
    dvla = sample_row("ILLUSTRATIVE_EA74_2025-26_Q3.csv")
    assert rows[("EA74", "2025-26 Q3")][2] == 1210.25 == float(dvla["ddat_staff_fte"])
    assert rows[("EA74", "2025-26 Q3")][6] == "digital skills; culture and leadership; data quality and access"
    assert rows[("D10", "2025-26 Q3")][:7] == [2, True, 3980.5, 395, 425, 61, "legacy technology; digital skills"]
    # The Environment Agency's samples are on the version 1 template: accepted, skills not reported (NULL, not 0).
    for quarter in ("2025-26 Q2", "2025-26 Q3"):
        assert rows[("EA199", quarter)] == [1, False, None, None, None, None, None, True]


def test_return_skills_per_department_sums_its_organisations(warehouse):
    rows = {(code, quarter): rest for code, quarter, *rest in warehouse.execute(
        "SELECT organisation_code, reporting_quarter, skills_reported, ddat_staff_fte, senior_civil_servants, "
        "main_barriers FROM marts.return_skills WHERE level = 'department'").fetchall()}
    assert rows[("D9", "2025-26 Q3")] == [True, 1210.25, 12,
                                         "digital skills; culture and leadership; data quality and access"]
    assert rows[("D18", "2025-26 Q3")] == [True, 652.5, 61, "legacy technology; other"]
    assert rows[("D10", "2025-26 Q2")] == [True, 3912.5, 420, "digital skills; legacy technology; funding"]
    environment = [v for (code, _), v in rows.items() if code not in ("D9", "D18", "D10")]
    assert environment and all(v == [False, None, None, None] for v in environment)


def test_return_barriers_counts_every_barrier_of_the_list_in_each_quarter(warehouse):
    from checks.return_contract import BARRIERS

    rows = warehouse.execute("SELECT reporting_quarter, barrier, barrier_order, departments_naming, "
                             "organisations_naming, organisations_reporting_skills, uses_illustrative_data "
                             "FROM marts.return_barriers ORDER BY reporting_quarter, barrier_order").fetchall()
    assert [r[0] for r in rows] == ["2025-26 Q2"] * len(BARRIERS) + ["2025-26 Q3"] * len(BARRIERS)
    assert [r[1] for r in rows] == list(BARRIERS) * 2 and [r[2] for r in rows] == list(range(1, 9)) * 2
    q3 = {barrier: (departments, organisations, reporting, illustrative)
          for quarter, barrier, _, departments, organisations, reporting, illustrative in rows
          if quarter == "2025-26 Q3"}
    assert q3 == {"digital skills": (2, 2, 3, True), "legacy technology": (2, 2, 3, True), "funding": (0, 0, 3, True),
                  "culture and leadership": (1, 1, 3, True), "procurement": (0, 0, 3, True),
                  "data quality and access": (1, 1, 3, True), "none": (0, 0, 3, True), "other": (1, 1, 3, True)}
    q2 = {barrier: (organisations, reporting) for quarter, barrier, _, _, organisations, reporting, _ in rows
          if quarter == "2025-26 Q2"}
    assert q2["legacy technology"] == (2, 2) and q2["procurement"] == (1, 2) and q2["none"] == (0, 2)


def test_the_barrier_list_reaches_dbt_from_the_contract(warehouse):
    from checks.return_contract import BARRIERS

    assert warehouse.execute("SELECT barrier FROM staging.return_barriers_list ORDER BY barrier_order"
                             ).fetchall() == [(b,) for b in BARRIERS]


def test_every_accepted_return_records_its_contract_version(warehouse):
    versions = dict(warehouse.execute("SELECT file_name, contract_version FROM audit.return_submissions "
                                      "WHERE status <> 'rejected'").fetchall())
    assert versions["ILLUSTRATIVE_EA199_2025-26_Q3.csv"] == 1 and versions["ILLUSTRATIVE_EA74_2025-26_Q3.csv"] == 2
    assert versions["ILLUSTRATIVE_D10_2025-26_Q3.xlsx"] == 2
    kept = warehouse.execute("SELECT DISTINCT organisation_code, contract_version, skills_reported "
                             "FROM staging.accepted_returns ORDER BY 1, 2").fetchall()
    assert kept == [("D10", 2, True), ("EA199", 1, False), ("EA73", 2, True), ("EA74", 2, True)]
