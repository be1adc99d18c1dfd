"""Messages that help (issue 12, point 6), and CSV files that used to raise or mislead.

Every rejection names where it applies (the file, the sheet of a workbook, the row and the column), repeats
what was found shortened and printable (control characters and terminal escapes as escapes), says how to fix
it, and is never a Python error.
"""

from __future__ import annotations

import csv

import pytest

from checks.return_files import ReturnFileError, read_return_file, shown
from checks.return_validation import ACCEPTED, ACCEPTED_WITH_WARNINGS, REJECTED
from tests.returns_helpers import VALID, check, csv_bytes, row, xlsx_bytes


def said(report) -> str:
    text = " ".join(p.located() for p in report.problems)
    assert "Traceback" not in text and "Error" not in text, text
    assert text.isprintable(), text
    return text


def test_a_long_note_says_the_cell_is_too_long_not_that_it_is_not_csv():
    report = check(csv_bytes(row(blockers_note="x" * (csv.field_size_limit() + 10))))
    text = said(report)
    assert report.status == REJECTED
    assert "too long" in text and f"{csv.field_size_limit():,} characters" in text and "1,000" in text
    assert "not valid CSV" not in text and "re-save" not in text.lower()


def test_a_note_a_little_too_long_names_its_length():
    report = check(csv_bytes(row(blockers_note="y" * 5000)))
    assert [p.message for p in report.problems] == [
        "Blockers (optional) is 5,000 characters long. Shorten it to 1,000 characters or fewer."]


def test_an_unclosed_quote_in_the_note():
    content = csv_bytes(VALID).replace(b"D10,", b'"D10,', 1)  # the quote opens and never closes
    report = check(content)
    assert report.status == REJECTED
    assert "Line 2 of the file has a quotation mark" in said(report)


@pytest.mark.parametrize("field", ["blockers_note", "main_barrier_2", "pay_services_live"])
def test_a_quote_never_closed_is_named_not_the_cells_it_swallowed(field):
    """The cells after an unclosed quotation mark are read as one: that is said, not 'is empty' for each."""
    content = csv_bytes(row(**{field: "PLACEHOLDER"})).replace(b"PLACEHOLDER", b'"a stray quote')
    report = check(content)
    assert report.status == REJECTED
    text = said(report)
    assert "Line 2 of the file has a quotation mark (\") that is never closed" in text, text
    assert "is empty" not in text


@pytest.mark.parametrize("note, written", [
    ('several\nlines, "quoted" inside', None),  # quoted as Excel quotes it, quotation marks doubled
    ('he said "no" twice', None),
    ('a lone " inside a cell', b'a lone " inside a cell'),  # not quoted at all: the mark is read as it is
])
def test_quotation_marks_that_are_closed_or_inside_a_cell_are_read(note, written):
    content = csv_bytes(row(blockers_note="PLACEHOLDER" if written else note))
    report = check(content.replace(b"PLACEHOLDER", written) if written else content)
    assert report.status != REJECTED, said(report)
    assert report.raw_rows[2]["blockers_note"] == note


def test_terminal_escapes_in_a_code_are_shown_as_escapes():
    report = check(csv_bytes(row(organisation_code="\x1b[2J\x1b[31mD10\x07")))
    text = said(report)
    assert "'\\x1b[2J\\x1b[31mD10\\x07' is not a GOV.UK organisation code" in text
    assert "\x1b" not in text
    assert report.problems[0].value == "\x1b[2J\x1b[31mD10\x07"  # kept as sent, for the record


def test_bidirectional_overrides_and_zero_width_characters_are_shown():
    report = check(csv_bytes(row(pay_services_live="1\u202e2", pay_services_in_scope="2\u200b0")))
    text = said(report)
    assert "1\\u202e2" in text and "2\\u200b0" in text


def test_control_characters_in_a_header_are_shown_as_escapes():
    header = [*VALID][:-1] + ["blockers\x1b]0;pwned\x07note"]
    text = said(check(csv_bytes(VALID, header=header)))
    assert "blockers\\x1b]0;pwned\\x07note" in text


def test_a_long_value_is_shortened():
    report = check(csv_bytes(row(pay_services_live="9" * 400)))
    text = said(report)
    assert "(400 characters)" in text and "9" * 100 not in text


def test_1e308_typed_in_a_csv_is_shown_as_typed():
    """A whole number in Excel's scientific form is read only when it is beyond every maximum (as a workbook gives
    1E+20): it is then too large, said as typed; 1E+3 stays 'not a whole number' (test_return_lenient.py)."""
    text = said(check(csv_bytes(row(pay_transactions="1E+308"))))
    assert "1E+308 is more than 10,000,000,000" in text


def test_a_309_digit_number_is_shortened():
    text = said(check(csv_bytes(row(pay_transactions="1" + "0" * 308))))
    assert "is more than 10,000,000,000" in text and "(309 characters)" in text


def test_every_rejection_names_the_file_and_the_place():
    report = check(csv_bytes(row(pay_services_live="x")), "dwp-q3.csv")
    assert report.problems[0].located() == (
        "dwp-q3.csv: Row 2, column L (pay_services_live): 'x' is not a whole number. Enter digits only, like 5, "
        "with no text or decimals.")
    whole = check(b"", "empty.csv")
    assert whole.problems[0].located() == "empty.csv: The file is empty (0 bytes). Save the return again and send " \
                                          "the saved file."


def test_a_hostile_file_name_is_shown_printable():
    report = check(csv_bytes(row(pay_services_live="x")), "\x1b[31mevil.csv")
    assert report.problems[0].located().startswith("\\x1b[31mevil.csv: ")
    odd = check(b"x", "\x1b[31mevil.exe")
    assert "\x1b" not in odd.problems[0].located()


def test_workbook_rows_name_the_sheet():
    report = check(xlsx_bytes(row(pay_services_live="x")), "r.xlsx")
    assert report.problems[0].describe().startswith("Sheet 'Return', row 2, column L (pay_services_live): ")


@pytest.mark.parametrize("content", [
    "D10,2025-26 Q3\n".encode("utf-16-le"),
    ",".join(VALID).encode("utf-16-be"),
    ",".join(VALID).encode("utf-32"),
])
def test_utf16_and_32_are_named(content):
    text = said(check(content))
    assert "UTF-16" in text or "binary data" in text


def test_a_nul_byte_late_in_the_file():
    content = csv_bytes(row(blockers_note="a" * 900)) + b"\x00"
    assert "binary data" in said(check(content))


def test_tabs_instead_of_commas():
    content = csv_bytes(VALID).replace(b",", b"\t")
    assert "separated by tabs" in said(check(content))


def test_undecodable_bytes():
    content = csv_bytes(VALID).replace(b"Waiting", b"Wait\x81\x8d\x8f\x90\x9d")
    assert "neither UTF-8 nor Windows-1252" in said(check(content))


def test_mac_roman_or_latin1_is_read_with_a_warning():
    report = check(csv_bytes(row(blockers_note="caf\u00e9"), encoding="latin-1"))
    assert report.status == ACCEPTED_WITH_WARNINGS


def test_old_mac_line_endings_and_lone_carriage_returns():
    content = csv_bytes(VALID).replace(b"\r\n", b"\r")
    assert check(content).status == ACCEPTED


def test_read_return_file_raises_only_its_own_error():
    for content, name in [(b"\xff" * 100, "r.csv"), (b"PK\x03\x04" + b"\x00" * 100, "r.xlsx"),
                          (b'"' * 10_000, "r.csv"), (b"a,b\n" * 10, "r.csv")]:
        with pytest.raises(ReturnFileError):
            read_return_file(content, name)


def test_shown():
    assert shown("plain") == "plain"
    assert shown("a\tb\nc\rd") == "a\\tb\\nc\\rd"
    assert shown("\x1b[0m\x7f\x9b") == "\\x1b[0m\\x7f\\x9b"
    assert shown("\u2028\ufeff") == "\\u2028\\ufeff"
    assert shown("x" * 100, 10) == "xxxxxxxxxx... (100 characters)"
    assert shown("\udcff") == "\\udcff"
    assert shown("caf\u00e9 \u00a3") == "caf\u00e9 \u00a3"  # printable letters stay as they are


def test_valid_files_still_pass():
    assert check(csv_bytes(VALID)).status == ACCEPTED
    assert check(xlsx_bytes(VALID), "r.xlsx").status == ACCEPTED


def test_a_fault_in_the_tracker_is_one_plain_rejection(monkeypatch):
    """The last line of defence: a bug while checking is logged, and the file gets a sentence, not a traceback."""
    import checks.return_validation as validation

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(validation, "rule_frame", broken)
    report = check(csv_bytes(VALID), "r.csv")
    assert report.status == REJECTED and report.returns is None
    assert [p.rule for p in report.problems] == [validation.UNCHECKED]
    assert "fault in the tracker, not in the file" in said(report)
