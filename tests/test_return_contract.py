"""Every rule of the return contract: a return that breaks only that rule, and the exact message."""

from __future__ import annotations

import pytest

from checks.return_contract import CROSS_FIELD_RULES, MESSAGES, WARNINGS, Quarter, table_ddl
from checks.return_validation import ACCEPTED, ACCEPTED_WITH_WARNINGS, REJECTED
from tests.returns_helpers import VALID, check, csv_bytes, row
from tests.test_return_contract_versions import SKILLS_CASES

RULES_TESTED: set[str] = set()


def only_problem(content: bytes, rule: str, submitter: str | None = None, name: str = "return.csv"):
    report = check(content, name, submitter)
    assert report.status == REJECTED
    assert [p.rule for p in report.problems] == [rule], [p.describe() for p in report.problems]
    RULES_TESTED.add(rule)
    return report.problems[0]


def test_the_valid_return_is_accepted_without_warnings():
    report = check(csv_bytes(VALID))
    assert report.status == ACCEPTED, [p.describe() for p in report.problems + report.warnings]
    assert report.key == ("D10", "2025-26 Q3")
    assert report.returns.loc[0, "pay_services_live"] == 8


CELL_CASES = [
    ("required", {"pay_services_live": ""}, "L", "GOV.UK Pay: services live is empty. Enter a whole number (0 if "
     "there are none)."),
    ("required_text", {"reporting_quarter": ""}, "B", "Reporting quarter is empty. The financial-year quarter the "
     "figures are for, written like 2025-26 Q3 (October to December 2025). Pick it from the list. Quarters from "
     "2016-17 Q1 up to the current one are accepted."),
    ("whole_number", {"forms_online": "twelve"}, "X", "'twelve' is not a whole number. Enter digits only, like 80, "
     "with no text or decimals."),
    ("not_negative", {"pay_transactions": "-4"}, "N", "-4 is below zero. Enter 0 or more."),
    ("too_large", {"apis_published": "1000001"}, "AA", "1000001 is more than 1,000,000, which no organisation has. "
     "Check the figure."),
    ("organisation_known", {"organisation_code": "ZZ99"}, "A", "'ZZ99' is not a GOV.UK organisation code the "
     "tracker knows. Use your organisation's code, like D10; ask CDDO if you are not sure."),
    ("quarter_format", {"reporting_quarter": "Q3 2025"}, "B", "'Q3 2025' is not a reporting quarter. Write it like "
     "2025-26 Q3 (October to December 2025)."),
    ("quarter_open", {"reporting_quarter": "2026-27 Q1"}, "B", "'2026-27 Q1' is not a quarter you can send a return "
     "for. It must have started and be no earlier than 2016-17 Q1; the latest is 2025-26 Q4."),
    ("paired", {"verify_services_live": "3"}, "H", "GOV.UK Verify: services live is filled in but GOV.UK Verify: "
     "services in scope is not. Fill in both, or leave both blank."),
    ("note_too_long", {"blockers_note": "x" * 1001}, "AB", "Blockers (optional) is 1,001 characters long. Shorten it "
     "to 1,000 characters or fewer."),
    ("no_formula", {"blockers_note": '=HYPERLINK("http://evil.example","Click")'}, "AB", "Blockers (optional) "
     "starts with '=', which spreadsheets run as a formula. Start the note with a letter or a number instead."),
]


@pytest.mark.parametrize(("rule", "changes", "letter", "message"), CELL_CASES, ids=[c[0] for c in CELL_CASES])
def test_each_cell_rule_alone(rule, changes, letter, message):
    problem = only_problem(csv_bytes(row(**changes)), rule)
    assert problem.message == message
    column = next(iter(changes))
    assert problem.row == 2 and problem.column == column and problem.value == changes[column]
    assert problem.describe().startswith(f"Row 2, column {letter} ({column}): ")


def test_an_unknown_code_is_said_once_not_again_as_another_senders():
    """'ZZ99 is not a code the tracker knows' is the problem; 'ask ZZ99 to send it' after it would say nonsense."""
    report = check(csv_bytes(row(organisation_code="ZZ99")), submitter="D10")
    assert [p.rule for p in report.problems] == ["organisation_known"]
    assert [p.rule for p in check(csv_bytes(row(organisation_code="EA73")), submitter="D10").problems] == [
        "submitter_matches"]  # a known code sent by another organisation still says so


def test_a_quarter_before_the_history_kept_is_refused():
    problem = only_problem(csv_bytes(row(reporting_quarter="2015-16 Q4")), "quarter_open")
    assert "no earlier than 2016-17 Q1" in problem.message


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@"])
def test_every_formula_prefix_is_refused_in_the_note(prefix):
    only_problem(csv_bytes(row(blockers_note=f"{prefix}1+1")), "no_formula")


def _breaking(rule, base: dict) -> dict:
    """Values that break only ``rule``: push the checked column one above its limit, keeping others valid."""
    limit = int(base[rule.limit]) - (int(base[rule.minus]) if rule.minus else 0)
    changes = {rule.column: str(limit + 1)}
    if rule.minus is None and rule.column.endswith("_services_live"):
        platform = rule.column.removesuffix("_services_live")
        changes[f"{platform}_services_planned"] = "0"  # live above scope leaves no room for planned
    if rule.column == "forms_online":
        changes["forms_paper_only"] = "0"
    return changes


@pytest.mark.parametrize("rule", CROSS_FIELD_RULES, ids=[r.name for r in CROSS_FIELD_RULES])
def test_each_cross_field_rule_alone(rule):
    base = row(verify_services_in_scope="4", verify_services_live="2", verify_services_planned="1",
               verify_transactions="10", reporting_quarter="2023-24 Q4")
    changes = _breaking(rule, base)
    problem = only_problem(csv_bytes(base | changes), "at_most")
    assert problem.column == rule.column
    assert rule.fix in problem.message
    assert f"({changes[rule.column]}) is more than" in problem.message


def test_live_above_scope_message_in_full():
    problem = only_problem(csv_bytes(row(pay_services_live="21", pay_services_planned="0")), "at_most")
    assert problem.describe() == (
        "Row 2, column L (pay_services_live): GOV.UK Pay: services live (21) is more than GOV.UK Pay: services in "
        "scope (20). Services live cannot be more than services in scope: check both figures.")


def test_planned_beyond_not_yet_live_message_in_full():
    problem = only_problem(csv_bytes(row(pay_services_planned="13")), "at_most")
    assert problem.message == (
        "GOV.UK Pay: services planned in the next four quarters (13) is more than GOV.UK Pay: services in scope minus "
        "services live (12). Services planned can only be services in scope that are not live yet: check all three "
        "figures.")


def test_live_above_scope_is_reported_once_not_again_as_planned():
    report = check(csv_bytes(row(pay_services_live="25")))
    assert [p.column for p in report.problems] == ["pay_services_live"]


def test_duplicate_rows_name_the_other_row():
    report = check(csv_bytes(VALID, VALID))
    assert report.status == REJECTED
    rules = {p.rule: p for p in report.problems}
    assert set(rules) == {"one_row", "one_return_per_row"}
    assert rules["one_return_per_row"].row == 3
    assert rules["one_return_per_row"].message == ("This is the same organisation and quarter as row 2. Send one "
                                                   "row for each organisation and quarter.")
    assert rules["one_row"].message == ("The file has 2 rows of figures. A return is one row: one organisation and "
                                        "one quarter. Send each quarter in its own file.")
    RULES_TESTED.update(rules)


def test_a_file_of_many_rows_is_refused_once_and_only_its_first_rows_are_checked():
    """A return is one row: a file of 1,000 gets one file-level problem saying so, and the first rows' problems,
    not one for every cell of every row (10,000 rows made 80,000 problems, printed and shown on a page)."""
    from checks.return_validation import ROWS_CHECKED

    bad = row(pay_services_live="many", reporting_quarter="2025-26 Q2")
    report = check(csv_bytes(*[row(reporting_quarter=f"20{10 + i // 4}-{11 + i // 4} Q{1 + i % 4}") for i in
                                range(3)], *[bad] * 997))
    rows = {p.rule: p for p in report.problems}["one_row"]
    assert rows.message.startswith("The file has 1,000 rows of figures. A return is one row")
    assert rows.message.endswith(f"The first {ROWS_CHECKED} were checked; the other {1000 - ROWS_CHECKED:,} were not.")
    assert {p.row for p in report.problems if p.row is not None} <= set(range(2, 2 + ROWS_CHECKED))
    assert any(p.row == 5 and p.column == "pay_services_live" for p in report.problems)  # a checked row's problem
    assert len(report.problems) < 20 * ROWS_CHECKED
    RULES_TESTED.update({"one_row", "rows_not_checked"})


def test_an_organisation_can_only_send_its_own_return():
    problem = only_problem(csv_bytes(VALID), "submitter_matches", submitter="EA73")
    assert problem.message == ("The return is for D10, but it was sent by EA73. An organisation can only send its "
                               "own return: ask D10 to send it, or correct the organisation code.")
    assert check(csv_bytes(VALID), submitter="D10").status == ACCEPTED


def test_values_beyond_the_last_column_are_refused():
    content = csv_bytes(VALID).rstrip(b"\r\n") + b",stray\r\n"
    problem = only_problem(content, "extra_values")
    assert problem.row == 2 and problem.column is None


def test_warning_transactions_missing_accepts_with_a_warning():
    report = check(csv_bytes(row(pay_transactions="")))
    assert report.status == ACCEPTED_WITH_WARNINGS
    assert [w.describe() for w in report.warnings] == [
        "Row 2, column N (pay_transactions): GOV.UK Pay: transactions in the quarter (optional) is blank although 8 "
        "service(s) are live. Add it if you can: it helps show how much the platform is used."]
    RULES_TESTED.add("transactions_missing")


def test_warning_verify_after_it_closed():
    report = check(csv_bytes(row(verify_services_in_scope="2", verify_services_live="0", verify_services_planned="0")))
    assert report.status == ACCEPTED_WITH_WARNINGS
    assert [w.rule for w in report.warnings] == ["verify_after_closure"]
    assert "after GOV.UK Verify closed" in report.warnings[0].message
    RULES_TESTED.add("verify_after_closure")


def test_warning_windows_encoding():
    report = check(csv_bytes(row(blockers_note="Café costs £2m"), encoding="cp1252"))
    assert report.status == ACCEPTED_WITH_WARNINGS
    assert report.warnings[0].message == WARNINGS["windows_encoding"]
    assert report.returns.loc[0, "blockers_note"] == "Café costs £2m"
    RULES_TESTED.add("windows_encoding")


@pytest.mark.parametrize(("label", "changes", "rule", "column", "letter", "message"), SKILLS_CASES,
                         ids=[c[0] for c in SKILLS_CASES])
def test_each_skills_rule_alone(label, changes, rule, column, letter, message):
    """The skills section's rules (tests/test_return_contract_versions.py has more on them), counted here."""
    problem = only_problem(csv_bytes(row(**changes)), rule)
    assert problem.describe() == f"Row 2, column {letter} ({column}): {message}"


def test_warning_other_barrier_without_a_note():
    report = check(csv_bytes(row(main_barrier_1="other", blockers_note="")))
    assert report.status == ACCEPTED_WITH_WARNINGS
    assert [(w.rule, w.column) for w in report.warnings] == [("choice_other_unexplained", "main_barrier_1")]
    RULES_TESTED.add("choice_other_unexplained")


def test_every_rule_in_the_contract_has_a_test():
    """Runs last in this module: every message and warning declared in the contract was exercised above."""
    declared = set(MESSAGES) | set(WARNINGS)
    assert declared - RULES_TESTED == set()


def test_quarters_are_financial_year_quarters():
    q3 = Quarter.parse("2025-26 Q3")
    assert (q3.start.isoformat(), q3.end.isoformat()) == ("2025-10-01", "2025-12-31")
    q4 = Quarter.parse("2025-26 Q4")
    assert (q4.start.isoformat(), q4.end.isoformat()) == ("2026-01-01", "2026-03-31")
    assert Quarter.parse("2025-27 Q1") is None  # the years must follow one another
    assert Quarter.containing(q4.start).label == "2025-26 Q4"


def test_table_definition_comes_from_the_contract():
    ddl = table_ddl("staging.department_returns")
    assert "pay_services_live BIGINT NOT NULL" in ddl
    assert "verify_services_live BIGINT," in ddl  # optional: nullable
    assert "PRIMARY KEY (organisation_code, reporting_quarter)" in ddl
