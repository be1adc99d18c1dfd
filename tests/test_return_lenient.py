"""Liberal in what analysts type, strict in what it means (issue 12, point 5).

Excel's Comma style (410,000.00), the Accounting style's dash for zero, the common spellings of a
financial-year quarter and stray spaces are read as the contract's values, and each one is recorded as read
and as understood on the report (``ValidationReport.normalisations``). Anything else keeps its clear message.
Both engines see the normalised values, so they still agree.
"""

from __future__ import annotations

import pytest

from checks.return_contract import normalise_quarter
from checks.return_rules import contract_rules, evaluate
from checks.return_templates import guidance_rows, xlsx_template
from checks.return_validation import ACCEPTED, REJECTED, Normalisation
from tests.returns_helpers import AS_OF, KNOWN, VALID, check, csv_bytes, row


def normalised(**changes: str):
    report = check(csv_bytes(row(**changes)))
    assert report.status == ACCEPTED, [p.describe() for p in report.problems + report.warnings]
    return report


@pytest.mark.parametrize("typed", ["410,000.00", "410000.00", "410,000", "410000.0", " 410,000.00 ", "410,000.000"])
def test_comma_style_whole_numbers(typed):
    report = normalised(pay_transactions=typed)
    assert report.returns.at[0, "pay_transactions"] == 410_000
    assert report.normalisations == [Normalisation(2, "pay_transactions", typed, "410000")]


@pytest.mark.parametrize("typed", ["-", " - ", "-   "])
def test_accounting_dash_is_zero(typed):
    report = normalised(pay_services_planned=typed)
    assert report.returns.at[0, "pay_services_planned"] == 0
    assert report.normalisations == [Normalisation(2, "pay_services_planned", typed, "0")]


@pytest.mark.parametrize("typed", ["2025/26 Q3", "Q3 2025-26", "2025-26 q3", "2025-2026 Q3", "2025\u201326 Q3",
                                   "2025\u201426 Q3", "  2025-26   Q3 ", "2025 - 26 Q3", "q3 2025/2026", "Q3 2025/26",
                                   "2025-26Q3", "2025-26\u00a0Q3"])
def test_quarter_spellings(typed):
    report = normalised(reporting_quarter=typed)
    assert report.key == ("D10", "2025-26 Q3")
    assert report.returns.at[0, "reporting_quarter"] == "2025-26 Q3"
    assert report.normalisations == [Normalisation(2, "reporting_quarter", typed, "2025-26 Q3")]


def test_a_quarter_with_extra_spaces_is_audited_with_its_quarter():
    assert check(csv_bytes(row(reporting_quarter="2025-26  Q3"))).key == ("D10", "2025-26 Q3")


def test_lower_case_codes_and_spaces_are_recorded_too():
    report = normalised(organisation_code=" d10", blockers_note="  Waiting. ")
    assert {(n.column, n.as_read, n.as_understood) for n in report.normalisations} == {
        ("organisation_code", " d10", "D10"), ("blockers_note", "  Waiting. ", "Waiting.")}


def test_a_valid_return_as_typed_has_no_normalisations():
    assert check(csv_bytes(VALID)).normalisations == []


def test_a_rejected_return_keeps_no_normalisations():
    report = check(csv_bytes(row(reporting_quarter="2025/26 Q3", pay_services_live="x")))
    assert report.status == REJECTED and report.normalisations == []


def test_normalisations_describe_themselves():
    report = normalised(pay_transactions="425,000.00")
    assert report.normalisations[0].record() == {"row": 2, "column": "pay_transactions", "column_letter": "N",
                                                 "as_read": "425,000.00", "as_understood": "425000"}
    assert report.normalisations[0].describe() == (
        "Row 2, column N (pay_transactions): '425,000.00' read as '425000'")


@pytest.mark.parametrize(("typed", "words"), [
    ("2025-27 Q3", "'2025-27 Q3' is not a reporting quarter"),  # 2025-27 is no financial year
    ("2025/2027 Q3", "'2025/2027 Q3' is not a reporting quarter"),
    ("2025-26 Q5", "'2025-26 Q5' is not a reporting quarter"),
    ("Q3", "'Q3' is not a reporting quarter"),
    ("2025 Q3", "'2025 Q3' is not a reporting quarter"),
    ("Oct-Dec 2025", "'Oct-Dec 2025' is not a reporting quarter"),
    ("2025-26 Q3 Q4", "is not a reporting quarter"),
])
def test_other_quarters_keep_their_message(typed, words):
    report = check(csv_bytes(row(reporting_quarter=typed)))
    assert report.status == REJECTED
    assert words in " ".join(p.message for p in report.problems)


@pytest.mark.parametrize("typed", ["410,00", "41,0000", "4,10,000", "410.5", "410,000.50", "1e3", "1E+3", "--",
                                   "- 5", "(5)", "£410", "410 000", "0x10", "\uff11\uff12", "\u0663", "1_000",
                                   "410,000.", ".00", "5-"])
def test_other_numbers_keep_their_message(typed):
    report = check(csv_bytes(row(pay_transactions=typed)))
    assert report.status == REJECTED, typed
    assert [p.rule for p in report.problems] == ["whole_number"]


def test_negative_comma_numbers_are_below_zero():
    report = check(csv_bytes(row(data_sharing_agreements="-1,000.00")))
    assert [p.rule for p in report.problems] == ["not_negative"]
    assert report.problems[0].message.startswith("-1,000.00 is below zero")


def test_normalised_values_meet_the_rules():
    """Normalisation comes before the rules: 2025/26 Q4 is still a quarter that has not started."""
    report = check(csv_bytes(row(reporting_quarter="2026/27 Q2")))
    assert [p.rule for p in report.problems] == ["quarter_open"]
    live_above = check(csv_bytes(row(pay_services_live="21.00", pay_services_planned="-")))
    assert [p.rule for p in live_above.problems] == ["at_most"]


def test_both_engines_see_the_normalised_frame():
    report = check(csv_bytes(row(reporting_quarter="Q3 2025/26", notify_transactions="10,100,000.00",
                                 verify_services_in_scope="-", verify_services_live="-")))
    assert report.checked.at[2, "reporting_quarter"] == "2025-26 Q3"
    assert report.checked.at[2, "notify_transactions"] == 10_100_000
    rules = contract_rules(KNOWN, AS_OF)
    assert evaluate(rules, report.checked) == report.findings
    # The Great Expectations engine is held to the same findings in tests/test_return_parity.py, on the same frame.


@pytest.mark.parametrize("spelling", ["2025-26 Q3", "2025/26 q3", "Q3 2025-2026", "2025\u201326Q3"])
def test_normalise_quarter_is_idempotent(spelling):
    once = normalise_quarter(spelling)
    assert once == "2025-26 Q3" and normalise_quarter(once) == once


def test_the_turn_of_the_century():
    assert normalise_quarter("2099/00 Q1") == "2099-00 Q1"
    assert normalise_quarter("2099/2100 Q1") == "2099-00 Q1"


def test_the_guidance_says_what_is_accepted():
    what = {r[1]: r[4] for r in guidance_rows()}
    assert "410,000.00" in what["pay_transactions"] and "dash (-) for zero" in what["pay_transactions"]
    assert "2025/26 Q3" in what["reporting_quarter"] and "Q3 2025-26" in what["reporting_quarter"]
    import datetime as dt
    import io

    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(xlsx_template([("D10", "DWP")], dt.date(2026, 1, 15))))
    said = " ".join(str(c.value) for r in book["Guidance"].iter_rows() for c in r if c.value)
    assert "410,000.00" in said and "2025/26 Q3" in said and "Only the 'Return' sheet is read" in said


def test_workbook_cells_are_normalised_too():
    from tests.returns_helpers import xlsx_bytes

    report = check(xlsx_bytes(row(reporting_quarter="2025/26 Q3", pay_transactions="425,000.00")), "r.xlsx")
    assert report.status == ACCEPTED
    assert [(n.column, n.as_understood) for n in report.normalisations] == [
        ("reporting_quarter", "2025-26 Q3"), ("pay_transactions", "425000")]
