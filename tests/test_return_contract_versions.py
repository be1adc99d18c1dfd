"""Contract versions and the skills section: an earlier template's return still counts, the new one is checked.

Version 1 is the platforms, forms and data sharing; version 2 adds the skills section (DDaT staff, senior civil
servants and their training, the main barriers). A return is read with the version its header was made with.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import duckdb
import openpyxl
import pytest

from checks.return_contract import (
    BARRIERS,
    COLUMN_NAMES,
    COLUMNS,
    CURRENT_VERSION,
    GUIDANCE_SHEET,
    LISTS_SHEET,
    MESSAGES,
    SECTION_FLAGS,
    TEMPLATE_SHEET,
    VERSION_COLUMNS,
    VERSIONS,
    WARNINGS,
    column_letter,
    columns_of,
    header_version,
    table_ddl,
    upgrade_ddl,
)
from checks.return_rules import contract_rules
from checks.return_templates import csv_template, guidance_rows, version_statement, xlsx_template
from checks.return_validation import ACCEPTED, ACCEPTED_WITH_WARNINGS, REJECTED
from tests.conftest import ingest, query
from tests.returns_helpers import AS_OF, KNOWN, VALID, VERSION_1_HEADER, check, csv_bytes, row, xlsx_bytes
from tracker.return_inbox import deliver

SKILLS = [c.name for c in COLUMNS if c.since == 2]
BARRIER_LIST = ("digital skills, legacy technology, funding, culture and leadership, procurement, data quality and "
                "access, none or other")

# (label, changes to the valid version 2 return, rule, column, column letter, the message in full)
SKILLS_CASES = [
    ("unknown barrier", {"main_barrier_1": "lack of unicorns"}, "choice_known", "main_barrier_1", "AG",
     f"'lack of unicorns' is not on the list. Pick one of: {BARRIER_LIST}."),
    ("unknown second barrier", {"main_barrier_2": "money"}, "choice_known", "main_barrier_2", "AH",
     f"'money' is not on the list. Pick one of: {BARRIER_LIST}."),
    ("negative vacancies", {"ddat_vacancies": "-3"}, "not_negative", "ddat_vacancies", "AD",
     "-3 is below zero. Enter 0 or more."),
    ("negative FTE", {"ddat_staff_fte": "-0.5"}, "not_negative", "ddat_staff_fte", "AC",
     "-0.5 is below zero. Enter 0 or more."),
    ("FTE in words", {"ddat_staff_fte": "about 400"}, "not_a_number", "ddat_staff_fte", "AC",
     "'about 400' is not a number. Enter digits only, like 412.5, with a decimal point if needed and no text."),
    ("FTE too large", {"ddat_staff_fte": "100000.5"}, "too_large", "ddat_staff_fte", "AC",
     "100000.5 is more than 100,000, which no organisation has. Check the figure."),
    ("vacancies with decimals", {"ddat_vacancies": "3.5"}, "whole_number", "ddat_vacancies", "AD",
     "'3.5' is not a whole number. Enter digits only, like 37, with no text or decimals."),
    ("more trained than senior civil servants", {"senior_civil_servants_trained": "86"}, "at_most",
     "senior_civil_servants_trained", "AF",
     "Skills: senior civil servants trained in digital or data (86) is more than Skills: senior civil servants (85). "
     "Senior civil servants trained cannot be more than the senior civil servants in your organisation: check both "
     "figures."),
    ("none with another barrier", {"main_barrier_1": "none"}, "choice_alone", "main_barrier_1", "AG",
     "Barriers: main barrier to adopting the common platforms is 'none', but column AH (main_barrier_2) also names "
     "a barrier. Pick 'none' only when there is no barrier: clear the other barriers, or change this one."),
    ("another barrier then none", {"main_barrier_3": "none"}, "choice_alone", "main_barrier_3", "AI",
     "Barriers: barrier 3 (optional) is 'none', but column AG (main_barrier_1) and column AH (main_barrier_2) also "
     "name a barrier. Pick 'none' only when there is no barrier: clear the other barriers, or change this one."),
    ("duplicated barrier", {"main_barrier_2": "legacy technology"}, "choice_repeated", "main_barrier_2", "AH",
     "'legacy technology' is already given in column AG (main_barrier_1). Name each barrier once: pick a different "
     "one or leave this one blank."),
    ("duplicated barrier in another case", {"main_barrier_3": "Digital  Skills"}, "choice_repeated", "main_barrier_3",
     "AI", "'digital skills' is already given in column AH (main_barrier_2). Name each barrier once: pick a "
     "different one or leave this one blank."),
    ("none twice", {"main_barrier_1": "none", "main_barrier_2": "none"}, "choice_repeated", "main_barrier_2", "AH",
     "'none' is already given in column AG (main_barrier_1). Name each barrier once: pick a different one or leave "
     "this one blank."),
    ("third barrier without a second", {"main_barrier_2": "", "main_barrier_3": "funding"}, "choice_in_order",
     "main_barrier_3", "AI",
     "Barriers: barrier 3 (optional) is filled in but column AH (main_barrier_2) is blank. Fill the barriers in "
     "order, most important first: move this one into column AH (main_barrier_2)."),
    ("no main barrier", {"main_barrier_1": "", "main_barrier_2": ""}, "required_text", "main_barrier_1", "AG",
     "Barriers: main barrier to adopting the common platforms is empty. " + COLUMNS[-3].help),
    ("FTE left blank", {"ddat_staff_fte": ""}, "required_number", "ddat_staff_fte", "AC",
     "Skills: digital, data and technology staff (FTE) is empty. Enter a number, like 412.5 (0 if there are none)."),
    ("senior civil servants left blank", {"senior_civil_servants": ""}, "required", "senior_civil_servants", "AE",
     "Skills: senior civil servants is empty. Enter a whole number (0 if there are none)."),
]


def report_of(changes: dict):
    return check(csv_bytes(row(**changes)))


def test_the_versions_are_numbered_in_order_and_each_later_column_follows_every_earlier_one():
    assert [v.number for v in VERSIONS] == list(range(1, CURRENT_VERSION + 1)) and CURRENT_VERSION == 2
    assert [c.since for c in COLUMNS] == sorted(c.since for c in COLUMNS)  # letters never move between versions
    assert [c.name for c in columns_of(1)] == VERSION_1_HEADER and len(VERSION_1_HEADER) == 28
    assert SKILLS == ["ddat_staff_fte", "ddat_vacancies", "senior_civil_servants", "senior_civil_servants_trained",
                      "main_barrier_1", "main_barrier_2", "main_barrier_3"]
    assert [column_letter(COLUMN_NAMES.index(c)) for c in (SKILLS[0], SKILLS[-1])] == ["AC", "AI"]
    assert SECTION_FLAGS == {"skills_reported": 2} and VERSION_COLUMNS == ["contract_version", "skills_reported"]


def test_the_version_is_read_from_the_header():
    assert header_version(VERSION_1_HEADER) == 1
    assert header_version(COLUMN_NAMES) == 2
    assert header_version([*VERSION_1_HEADER, "main_barrier_2"]) == 2  # any column of the section makes it a try


def test_a_return_on_the_previous_template_is_accepted_as_skills_not_reported():
    for content, name in ((csv_bytes(VALID, header=VERSION_1_HEADER), "old.csv"),
                          (xlsx_bytes(VALID, header=VERSION_1_HEADER), "old.xlsx")):
        report = check(content, name)
        assert report.status == ACCEPTED, [p.describe() for p in report.problems + report.warnings]
        assert report.version == 1
        kept = report.returns.iloc[0]
        assert kept["contract_version"] == 1 and not kept["skills_reported"]
        assert kept[SKILLS].isna().all()  # not reported, never zero
        assert kept["pay_services_live"] == 8


def test_a_return_on_the_new_template_is_read_with_its_figures():
    report = check(csv_bytes(VALID))
    assert report.status == ACCEPTED and report.version == 2
    kept = report.returns.iloc[0]
    assert (kept["contract_version"], kept["skills_reported"]) == (2, True)
    assert (kept["ddat_staff_fte"], kept["ddat_vacancies"], kept["senior_civil_servants"],
            kept["senior_civil_servants_trained"]) == (412.5, 37, 85, 12)
    assert (kept["main_barrier_1"], kept["main_barrier_2"], kept["main_barrier_3"]) == \
        ("legacy technology", "digital skills", None)


@pytest.mark.parametrize(("label", "changes", "rule", "column", "letter", "message"), SKILLS_CASES,
                         ids=[c[0] for c in SKILLS_CASES])
def test_each_skills_rule_alone(label, changes, rule, column, letter, message):
    report = report_of(changes)
    assert report.status == REJECTED
    assert [(p.rule, p.column) for p in report.problems] == [(rule, column)], [p.describe() for p in report.problems]
    problem = report.problems[0]
    assert problem.row == 2 and problem.message == message
    assert problem.describe() == f"Row 2, column {letter} ({column}): {message}"


def test_the_same_mistakes_in_a_workbook_name_the_same_row_and_column():
    report = check(xlsx_bytes(row(main_barrier_1="lack of unicorns", senior_civil_servants_trained="90")), "r.xlsx")
    assert [p.describe() for p in report.problems] == [
        "Sheet 'Return', row 2, column AF (senior_civil_servants_trained): Skills: senior civil servants trained in "
        "digital or data (90) is more than Skills: senior civil servants (85). Senior civil servants trained cannot be "
        "more than the senior civil servants in your organisation: check both figures.",
        f"Sheet 'Return', row 2, column AG (main_barrier_1): 'lack of unicorns' is not on the list. Pick one of: "
        f"{BARRIER_LIST}."]


def test_a_file_with_part_of_the_skills_section_gets_one_problem_naming_the_missing_columns():
    header = [*VERSION_1_HEADER, "ddat_staff_fte", "ddat_vacancies", "main_barrier_1"]
    report = check(csv_bytes(VALID, header=header))
    assert report.status == REJECTED and len(report.problems) == 1
    assert report.problems[0].describe() == (
        "The file: The header row has only some of the columns of the skills section (added in version 2 of the "
        "return): missing columns senior_civil_servants, senior_civil_servants_trained, main_barrier_2, "
        "main_barrier_3. Add them from the current template, or delete the section's other columns to send the "
        "return without it (a return without the section is accepted).")
    one_missing = check(xlsx_bytes(VALID, header=[c for c in COLUMN_NAMES if c != "main_barrier_3"]), "r.xlsx")
    assert [p.message for p in one_missing.problems] == [
        "Row 1 of the 'Return' sheet (the sheet read) has only some of the columns of the skills section (added in "
        "version 2 of the return): missing column main_barrier_3. Add it from the current template, or delete the "
        "section's other columns to send the return without it (a return without the section is accepted)."]


def test_a_version_1_column_missing_is_still_the_usual_header_problem():
    header = [c for c in COLUMN_NAMES if c != "apis_published"]
    message = check(csv_bytes(VALID, header=header)).problems[0].message
    assert "missing column: apis_published" in message and "skills section" not in message


def test_none_alone_and_blank_others_is_accepted():
    report = report_of({"main_barrier_1": "None", "main_barrier_2": "", "main_barrier_3": ""})
    assert report.status == ACCEPTED
    assert report.returns.loc[0, "main_barrier_1"] == "none"
    assert [n.describe() for n in report.normalisations] == [
        "Row 2, column AG (main_barrier_1): 'None' read as 'none'"]


def test_three_different_barriers_in_any_case_are_accepted():
    report = report_of({"main_barrier_1": "FUNDING", "main_barrier_2": " Culture and leadership ",
                        "main_barrier_3": "data quality and access"})
    assert report.status == ACCEPTED
    assert list(report.returns.loc[0, ["main_barrier_1", "main_barrier_2", "main_barrier_3"]]) == \
        ["funding", "culture and leadership", "data quality and access"]


def test_other_without_a_note_is_accepted_with_a_warning_asking_what_it_is():
    report = report_of({"main_barrier_2": "other", "blockers_note": ""})
    assert report.status == ACCEPTED_WITH_WARNINGS
    assert [w.describe() for w in report.warnings] == [
        "Row 2, column AH (main_barrier_2): Barriers: barrier 2 (optional) is 'other' but the blockers note (column "
        "AB, blockers_note) is empty. Say in the note what the barrier is."]
    assert report_of({"main_barrier_2": "other"}).status == ACCEPTED  # the note says what it is


def test_fte_is_kept_to_two_decimal_places_and_the_rounding_recorded():
    report = report_of({"ddat_staff_fte": "1,412.567"})
    assert report.status == ACCEPTED and report.returns.loc[0, "ddat_staff_fte"] == 1412.57
    assert [n.record() for n in report.normalisations] == [
        {"row": 2, "column": "ddat_staff_fte", "column_letter": "AC", "as_read": "1,412.567",
         "as_understood": "1412.57"}]
    whole = report_of({"ddat_staff_fte": "400"})
    assert whole.returns.loc[0, "ddat_staff_fte"] == 400.0 and whole.normalisations == []
    assert report_of({"ddat_staff_fte": "0"}).status == ACCEPTED
    assert report_of({"ddat_staff_fte": "-"}).returns.loc[0, "ddat_staff_fte"] == 0.0  # accounting zero


def test_trained_equal_to_senior_civil_servants_is_accepted_and_zero_of_zero_too():
    assert report_of({"senior_civil_servants_trained": "85"}).status == ACCEPTED
    assert report_of({"senior_civil_servants": "0", "senior_civil_servants_trained": "0"}).status == ACCEPTED


def test_the_skills_rules_are_not_applied_to_a_version_1_return():
    """Whatever an earlier template lacks is never 'empty': only version 2 files must fill the skills section."""
    rules = {r.rule for r in contract_rules(KNOWN, AS_OF) if r.column in SKILLS}
    assert rules >= {"required", "required_number", "required_text", "choice_known", "choice_alone", "choice_repeated",
                     "choice_in_order", "choice_other_unexplained", "at_most", "not_negative", "too_large"}
    old = check(csv_bytes(row(blockers_note=""), header=VERSION_1_HEADER))
    assert old.status == ACCEPTED and old.warnings == []


def test_several_skills_problems_are_each_reported_in_column_order():
    report = report_of({"ddat_staff_fte": "lots", "ddat_vacancies": "-1", "main_barrier_1": "none",
                        "main_barrier_3": "other"})
    assert [(p.rule, p.column) for p in report.problems] == [
        ("not_a_number", "ddat_staff_fte"), ("not_negative", "ddat_vacancies"), ("choice_alone", "main_barrier_1")]


def test_every_skills_message_and_warning_is_declared_once_in_the_contract():
    for key in ("required_number", "not_a_number", "choice_known", "choice_alone", "choice_repeated",
                "choice_in_order"):
        assert key in MESSAGES
    assert "choice_other_unexplained" in WARNINGS
    assert "{last_column}" in MESSAGES["extra_values"]


def test_values_beyond_the_last_column_name_the_last_column_of_the_files_version():
    old = csv_bytes(VALID, header=VERSION_1_HEADER).replace(b"end.\r\n", b"end.,stray\r\n")
    assert check(old).problems[0].message.startswith(
        "This row has values to the right of the last column (blockers_note).")
    new = csv_bytes(VALID).rstrip(b"\r\n") + b",stray\r\n"
    assert check(new).problems[0].message.startswith(
        "This row has values to the right of the last column (main_barrier_3).")


# --- The templates ---------------------------------------------------------------------------------------


def test_the_excel_template_has_barrier_drop_downs_and_states_its_version():
    book = openpyxl.load_workbook(io.BytesIO(xlsx_template([("D10", "Department for Work and Pensions")],
                                                           dt.date(2026, 1, 15))))
    validations = {str(v.sqref): v for v in book[TEMPLATE_SHEET].data_validations.dataValidation}
    for letter in ("AG", "AH", "AI"):
        assert validations[f"{letter}2"].type == "list"
        assert validations[f"{letter}2"].formula1 == f"={LISTS_SHEET}!$F$2:$F${len(BARRIERS) + 1}"
    assert validations["AG2"].allow_blank is not True and validations["AH2"].allow_blank
    assert validations["AC2"].type == "decimal" and validations["AD2"].type == "whole"
    lists = book[LISTS_SHEET]
    assert [lists[f"F{i}"].value for i in range(1, len(BARRIERS) + 2)] == ["Barrier", *BARRIERS]
    assert book[GUIDANCE_SHEET]["A1"].value.startswith(version_statement())
    assert "This is version 2 of the department return" in version_statement()
    assert "version 2: the skills section" in version_statement() and "(columns AC to AI)" in version_statement()
    assert book.properties.keywords == "contract_version=2"
    guidance = {r[1]: r for r in guidance_rows()}
    assert guidance["main_barrier_1"][3] == "Yes, from version 2" and guidance["pay_services_live"][3] == "Yes"
    assert "none, other" in guidance["main_barrier_2"][4]


def test_the_csv_template_is_the_current_version_and_the_old_header_still_reads():
    assert csv_template().strip().split(",") == COLUMN_NAMES
    assert header_version(csv_template().strip().split(",")) == CURRENT_VERSION


# --- The warehouse -----------------------------------------------------------------------------------------

# The audit table as the previous code made it (before contract versions were recorded).
PREVIOUS_AUDIT_DDL = """CREATE TABLE audit.return_submissions (
    submission_ref VARCHAR PRIMARY KEY, sha256 VARCHAR NOT NULL, file_name VARCHAR NOT NULL,
    organisation_code VARCHAR NOT NULL, channel VARCHAR NOT NULL, is_illustrative BOOLEAN NOT NULL,
    received_at TIMESTAMP NOT NULL, processed_at TIMESTAMP NOT NULL,
    return_organisation_code VARCHAR, reporting_quarter VARCHAR, status VARCHAR NOT NULL,
    problem_count INTEGER NOT NULL, warning_count INTEGER NOT NULL, summary VARCHAR NOT NULL,
    warnings JSON, duplicate_of VARCHAR, archived_as VARCHAR, gx_result JSON, normalisations JSON,
    sender VARCHAR, on_behalf_reason VARCHAR)"""
EXTRAS = "submission_ref VARCHAR NOT NULL, received_at TIMESTAMP NOT NULL, is_illustrative BOOLEAN NOT NULL"


def test_the_table_definition_records_the_version_and_upgrades_by_alter():
    ddl = table_ddl("staging.department_returns")
    assert "contract_version INTEGER NOT NULL" in ddl and "skills_reported BOOLEAN NOT NULL" in ddl
    assert "ddat_staff_fte DOUBLE," in ddl and "main_barrier_1 VARCHAR," in ddl  # nullable: version 1 lacks them
    assert "contract_version" not in table_ddl("t", version=1) and "ddat_staff_fte" not in table_ddl("t", version=1)
    assert all(s.startswith("ALTER TABLE t ") for s in upgrade_ddl("t"))


def _previous_warehouse(home) -> None:
    """Make the returns tables as the previous code did, with one accepted version 1 return in them."""
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute(PREVIOUS_AUDIT_DDL)
    old = {c: (int(VALID[c]) if VALID[c].isdigit() else VALID[c] or None) for c in VERSION_1_HEADER}
    old |= {"organisation_code": "EA73", "submission_ref": "R-OLD0000001", "received_at": dt.datetime(2025, 10, 1),
            "is_illustrative": False}
    for table in ("staging.department_returns", "staging.accepted_returns"):
        con.execute(table_ddl(table, EXTRAS, version=1).replace("IF NOT EXISTS ", ""))
        con.execute(f"INSERT INTO {table} ({', '.join(old)}) VALUES ({', '.join('?' * len(old))})", list(old.values()))
    con.execute("INSERT INTO audit.return_submissions VALUES ('R-OLD0000001', 'abc', 'old.csv', 'EA73', 'test', false, "
                "'2025-10-01', '2025-10-01', 'EA73', '2025-26 Q3', 'accepted', 0, 0, 'Accepted: EA73 2025-26 Q3.', "
                "'[]', NULL, NULL, NULL, '[]', NULL, NULL)")
    con.close()


def test_a_warehouse_made_by_the_previous_code_gains_the_columns_by_alter_and_keeps_its_returns(returns_home):
    _previous_warehouse(returns_home)
    deliver(returns_home, csv_bytes(VALID), "new.csv", "D10", "test",
            now=dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC))
    deliver(returns_home, csv_bytes(row(organisation_code="EA74"), header=VERSION_1_HEADER), "old_template.csv",
            "EA74", "test", now=dt.datetime(2026, 1, 20, 9, 5, tzinfo=dt.UTC))
    assert ingest(returns_home).success
    for table in ("staging.department_returns", "staging.accepted_returns"):
        columns = [c for (c, *_) in query(returns_home, f"DESCRIBE {table}")]
        # Added at the end, after the previous code's last column: altered, not rebuilt.
        assert columns[-(len(SKILLS) + 3):] == ["is_illustrative", *SKILLS, "contract_version", "skills_reported"]
        rows = query(returns_home, f"SELECT organisation_code, contract_version, skills_reported, ddat_staff_fte, "
                                   f"main_barrier_1 FROM {table} ORDER BY organisation_code")
        assert rows == [("D10", 2, True, 412.5, "legacy technology"), ("EA73", 1, False, None, None),
                        ("EA74", 1, False, None, None)]
    audit = query(returns_home, "SELECT submission_ref, file_name, contract_version, status FROM "
                                "audit.return_submissions ORDER BY received_at")
    assert audit[0] == ("R-OLD0000001", "old.csv", 1, "accepted")
    assert [(f, v, s) for _, f, v, s in audit[1:]] == [("new.csv", 2, "accepted"), ("old_template.csv", 1, "accepted")]
    summary, = query(returns_home, "SELECT summary FROM audit.return_submissions WHERE file_name = 'old_template.csv'")
    assert summary[0].endswith("Made with the version 1 template: accepted as it is, and recorded as not reporting "
                               "the skills section. The current template (version 2) adds the skills section: please "
                               "use it for your next return.")
    assert ingest(returns_home).success  # the ALTERs again change nothing
    assert len(query(returns_home, "SELECT * FROM staging.accepted_returns")) == 3


def test_ingestion_records_each_returns_version_and_a_rejection_its_version_too(returns_home):
    at = dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC)
    deliver(returns_home, csv_bytes(row(main_barrier_2="legacy technology")), "dup.csv", "D10", "test", now=at)
    deliver(returns_home, b"not,a,return\r\n1,2,3\r\n", "junk.csv", "D16", "test", now=at + dt.timedelta(minutes=1))
    assert ingest(returns_home).success
    audit = query(returns_home, "SELECT file_name, status, contract_version FROM audit.return_submissions "
                                "ORDER BY received_at")
    assert audit == [("dup.csv", "rejected", 2), ("junk.csv", "rejected", None)]
    problem = query(returns_home, "SELECT column_letter, column_name, rule, row_values FROM quarantine.return_problems "
                                  "WHERE rule = 'choice_repeated'")
    assert [(letter, name, rule) for letter, name, rule, _ in problem] == [("AH", "main_barrier_2", "choice_repeated")]
    assert json.loads(problem[0][3])["main_barrier_2"] == "legacy technology"


def test_tracker_validate_says_an_old_template_is_accepted_and_what_it_does_not_report(tmp_path, monkeypatch, capsys):
    from pipelines.return_commands import validate

    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    monkeypatch.setenv("TRACKER_AS_OF", "2026-01-31")
    old = tmp_path / "old.csv"
    old.write_bytes(csv_bytes(VALID, header=VERSION_1_HEADER))
    assert validate(str(old)) == 0
    said = capsys.readouterr().out
    assert "the return is valid" in said and "note: Made with the version 1 template: accepted as it is" in said
    new = tmp_path / "new.csv"
    new.write_bytes(csv_bytes(VALID))
    assert validate(str(new)) == 0 and "note:" not in capsys.readouterr().out
