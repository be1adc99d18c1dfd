"""Hostile and broken return files: each gets a clear message, none crashes, nothing is half-written or lost."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile

import duckdb
import pytest

from checks.return_contract import COLUMN_NAMES, MAX_FILE_BYTES, column_letter, columns_of
from checks.return_validation import ACCEPTED, ACCEPTED_WITH_WARNINGS, REJECTED
from tests.conftest import ingest
from tests.returns_helpers import VALID, check, csv_bytes, row, xlsx_bytes, zip_parts
from tracker.return_inbox import archive_dir, deliver, inbox_dir


def _with_member(workbook: bytes, name: str, data: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(workbook))
    members = {m: source.read(m) for m in source.namelist()}
    members[name] = data
    return zip_parts(members)


def _moved(name: str, to: int, names: list[str] = COLUMN_NAMES) -> list[str]:
    """The template's header with one column moved to position ``to`` (0 is column A)."""
    rest = [n for n in names if n != name]
    return [*rest[:to], name, *rest[to:]]


VALID_CSV = csv_bytes(VALID)
VALID_XLSX = xlsx_bytes(VALID)
SHEET = "xl/worksheets/sheet1.xml"
# The worksheet with a "billion laughs" entity expansion in place of the organisation code.
BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY lol "lol">'
                  b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                  b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
                  + zipfile.ZipFile(io.BytesIO(VALID_XLSX)).read(SHEET).replace(b"<t>D10</t>", b"<t>&lol3;</t>"))
_SHEET_XML = zipfile.ZipFile(io.BytesIO(VALID_XLSX)).read(SHEET)
_BOOK_XML = zipfile.ZipFile(io.BytesIO(VALID_XLSX)).read("xl/workbook.xml")
OTHER_SHEET_XLSX = VALID_XLSX.replace(b'name="Return"', b'name="Sheet1"')

# (id, file name, bytes, expected status, words the message must contain)
HOSTILE = [
    ("wrong header", "r.csv", csv_bytes(VALID, header=[h.replace("pay_services_live", "pay_live")
                                                        for h in COLUMN_NAMES]),
     REJECTED, "missing column: pay_services_live; column the return does not have: pay_live"),
    ("missing column", "r.csv", csv_bytes(VALID, header=[c for c in COLUMN_NAMES if c != "apis_published"]),
     REJECTED, "missing column: apis_published"),
    ("extra column", "r.csv", csv_bytes(VALID, header=[*COLUMN_NAMES, "comments"]), REJECTED,
     "column the return does not have: comments"),
    # every problem is told at the template's column, so a moved column is refused rather than misplaced
    ("columns out of order", "r.csv", csv_bytes(row(pay_services_live="abc"), header=_moved("pay_services_live", 1)),
     REJECTED, "not in the template's order: column B is pay_services_live, where the template has "
               "reporting_quarter (and pay_services_live in column L)"),
    ("columns out of order, workbook", "r.xlsx", xlsx_bytes(VALID, header=_moved("pay_services_live", 1)),
     REJECTED, "Row 1 of the 'Return' sheet (the sheet read) has the template's columns, but not in the template's "
               "order: column B is pay_services_live"),
    ("earlier template, columns out of order", "r.csv",
     csv_bytes(VALID, header=_moved("organisation_code", 3, [c.name for c in columns_of(1)])), REJECTED,
     "column A is reporting_quarter, where the template has organisation_code"),
    ("two columns swapped at the end", "r.csv", csv_bytes(VALID, header=[*COLUMN_NAMES[:-2], *COLUMN_NAMES[:-3:-1]]),
     REJECTED, f"column {column_letter(len(COLUMN_NAMES) - 2)} is {COLUMN_NAMES[-1]}"),
    ("header in capitals, padded", "r.csv",
     ",".join(f" {c.upper()} " for c in COLUMN_NAMES).encode() + VALID_CSV[VALID_CSV.index(b"\r\n"):], ACCEPTED, ""),
    ("years that do not follow", "r.csv", csv_bytes(row(reporting_quarter="2025-27 Q1")), REJECTED,
     "'2025-27 Q1' is not a reporting quarter. Write it like 2025-26 Q3"),
    ("years that do not follow, spelt another way", "r.csv", csv_bytes(row(reporting_quarter="Q1 2025/2027")),
     REJECTED, "'Q1 2025/2027' is not a reporting quarter"),
    ("a century's turn", "r.csv", csv_bytes(row(reporting_quarter="2099-00 Q1")), REJECTED,
     "'2099-00 Q1' is not a quarter you can send a return for"),  # a real financial year, not yet open
    ("scientific notation in a CSV", "r.csv", csv_bytes(row(pay_transactions="1E+3")), REJECTED,
     "'1E+3' is not a whole number"),
    ("column named twice", "r.csv", csv_bytes(VALID, header=[*COLUMN_NAMES, "pay_services_live"]), REJECTED,
     "named twice: pay_services_live"),
    ("text in a number", "r.csv", csv_bytes(row(pay_services_in_scope="about 20")), REJECTED,
     "'about 20' is not a whole number"),
    ("decimal", "r.csv", csv_bytes(row(pay_services_live="7.5")), REJECTED, "'7.5' is not a whole number"),
    ("negative number", "r.csv", csv_bytes(row(forms_total="-420")), REJECTED, "-420 is below zero"),
    ("live above in scope", "r.csv", csv_bytes(row(notify_services_live="46", notify_services_planned="0")),
     REJECTED, "services live (46) is more than GOV.UK Notify: services in scope (45)"),
    ("duplicate rows", "r.csv", csv_bytes(VALID, VALID), REJECTED, "same organisation and quarter as row 2"),
    ("two organisations", "r.csv", csv_bytes(VALID, row(organisation_code="EA73")), REJECTED,
     "The file has 2 rows of figures"),
    ("unknown organisation", "r.csv", csv_bytes(row(organisation_code="XX1")), REJECTED,
     "'XX1' is not a GOV.UK organisation code"),
    ("future quarter", "r.csv", csv_bytes(row(reporting_quarter="2026-27 Q2")), REJECTED,
     "It must have started"),
    ("blank lines only", "r.csv", b"\r\n\r\n  \r\n", REJECTED, "no header row"),
    ("header only", "r.csv", csv_bytes(), REJECTED, "header row but no figures"),
    ("0-byte file", "r.csv", b"", REJECTED, "The file is empty (0 bytes)"),
    ("binary garbage", "r.csv", bytes(range(256)) * 40, REJECTED, "contains binary data"),
    ("PNG named .csv", "r.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64, REJECTED,
     "contains binary data"),
    ("UTF-16 from Excel", "r.csv", VALID_CSV.decode().encode("utf-16"), REJECTED, "saved as UTF-16"),
    ("semicolons", "r.csv", VALID_CSV.replace(b",", b";"), REJECTED, "separated by semicolons"),
    ("Latin-1 encoding", "r.csv", csv_bytes(row(blockers_note="Café: £2m"), encoding="latin-1"),
     ACCEPTED_WITH_WARNINGS, "read as Windows-1252"),
    ("UTF-8 with BOM", "r.csv", b"\xef\xbb\xbf" + VALID_CSV, ACCEPTED, ""),
    ("quoted note with a comma and a line break", "r.csv", csv_bytes(row(blockers_note="Two things:\nfunding, "
                                                                         "and staff")), ACCEPTED, ""),
    ("thousands separators", "r.csv", csv_bytes(row(notify_transactions="10,100,000")), ACCEPTED, ""),
    ("empty rows after the figures", "r.csv", VALID_CSV + b"," * 27 + b"\r\n" + b"," * 27 + b"\r\n", ACCEPTED, ""),
    ("HYPERLINK injection in the note", "r.csv", csv_bytes(row(blockers_note='=HYPERLINK("https://evil.example",'
                                                                             '"Click")')),
     REJECTED, "starts with '=', which spreadsheets run as a formula"),
    ("formula cells", "r.xlsx", xlsx_bytes(VALID, formulas={"L2": "=C2+1", "M2": "=SUM(C2:D2)"}), REJECTED,
     "Cells L2, M2 on the 'Return' sheet contain formulas"),
    ("one formula cell", "r.xlsx", xlsx_bytes(VALID, formulas={"L2": "=C2+1"}), REJECTED,
     "Cell L2 on the 'Return' sheet contains a formula. Returns must hold values only"),
    ("one byte over the limit", "r.csv", VALID_CSV + b" " * (MAX_FILE_BYTES + 1 - len(VALID_CSV)), REJECTED,
     f"({MAX_FILE_BYTES + 1:,} bytes); the limit is 2 MB ({MAX_FILE_BYTES:,} bytes)"),
    ("50 MB file", "r.csv", VALID_CSV + b" " * (50 * 1024 * 1024), REJECTED, "the limit is 2 MB"),
    ("zip bomb renamed .xlsx", "r.xlsx",
     zip_parts({"xl/workbook.xml": b"<workbook/>", "xl/big.xml": b"0" * 60_000_000}),
     REJECTED, "unpacks to far more data than a return holds"),
    ("macro-enabled .xlsm", "r.xlsm", VALID_XLSX, REJECTED, "macro-enabled workbook"),
    ("macros hidden in an .xlsx", "r.xlsx", _with_member(VALID_XLSX, "xl/vbaProject.bin", b"\xd0\xcf\x11\xe0"),
     REJECTED, "contains macros"),
    ("XML entity bomb", "r.xlsx", _with_member(VALID_XLSX, SHEET, BILLION_LAUGHS), REJECTED,
     "damaged"),
    ("truncated workbook", "r.xlsx", VALID_XLSX[: len(VALID_XLSX) // 2], REJECTED, "is not an Excel workbook"),
    ("zip that is not a workbook", "r.xlsx", zip_parts({"readme.txt": b"hello"}), REJECTED,
     "a zip archive but not an Excel workbook"),
    ("HTML named .xlsx", "r.xlsx", b"<html><body><table><tr><td>D10</td></tr></table></body></html>", REJECTED,
     "is not an Excel workbook"),
    ("program", "r.exe", b"MZ\x90\x00" + b"\x00" * 100, REJECTED, "is not a CSV or Excel (.xlsx) file"),
    ("old Excel format", "r.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, REJECTED,
     "is not a CSV or Excel (.xlsx) file"),
    ("workbook on a sheet with another name", "r.xlsx", OTHER_SHEET_XLSX, ACCEPTED, ""),
    ("sheet XML cut short", "r.xlsx", _with_member(VALID_XLSX, SHEET, _SHEET_XML[: len(_SHEET_XML) // 3]), REJECTED,
     "The 'Return' sheet is damaged and cannot be read"),
    ("text in a number cell's XML", "r.xlsx",
     _with_member(VALID_XLSX, SHEET, re.sub(rb'(<c r="C2"[^>]*>)<v>30</v>', rb"\1<v>thirty</v>", _SHEET_XML)),
     REJECTED, "The 'Return' sheet is damaged"),
    ("VBA project under another name", "r.xlsx",
     _with_member(VALID_XLSX, "xl/media/logo.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504), REJECTED,
     "an embedded binary file (an OLE compound file"),
    ("DDE link", "r.xlsx", _with_member(VALID_XLSX, "xl/externalLinks/externalLink1.xml",
                                        b"<externalLink><ddeLink ddeService='cmd' ddeTopic='/c calc'/></externalLink>"),
     REJECTED, "DDE links"),
    ("hidden Return sheet", "r.xlsx", _with_member(VALID_XLSX, "xl/workbook.xml", _BOOK_XML.replace(
        b'state="visible"', b'state="hidden"')), REJECTED, "is hidden"),
    ("workbook whose sheet is really renamed", "r.xlsx", _with_member(VALID_XLSX, "xl/workbook.xml", _BOOK_XML.replace(
        b'name="Return"', b'name="Sheet1"')), ACCEPTED, ""),
    ("note longer than a CSV field", "r.csv", csv_bytes(row(blockers_note="n" * 200_000)), REJECTED,
     "is too long: more than 131,072 characters"),
    ("Comma Style and a quarter with a slash", "r.csv",
     csv_bytes(row(pay_transactions="425,000.00", reporting_quarter="2025/26 Q3", pay_services_planned="2.00")),
     ACCEPTED, ""),
    ("terminal escapes in the code", "r.csv", csv_bytes(row(organisation_code="\x1b[2JD10")), REJECTED,
     "'\\x1b[2JD10' is not a GOV.UK organisation code"),
    ("valid workbook", "r.xlsx", VALID_XLSX, ACCEPTED, ""),
]


@pytest.mark.parametrize(("name", "content", "status", "words"), [c[1:] for c in HOSTILE],
                         ids=[c[0] for c in HOSTILE])
def test_each_hostile_file_gets_a_clear_message(name, content, status, words):
    report = check(content, name)
    said = " ".join(p.describe() for p in report.problems + report.warnings)
    assert report.status == status, said
    assert words in said
    for problem in report.problems:
        assert "Traceback" not in problem.message and "Error(" not in problem.message
        assert problem.message.endswith((".", ")")), problem.message


def test_the_set_is_big_enough():
    assert len(HOSTILE) >= 25
    assert sum(1 for c in HOSTILE if c[3] == REJECTED) >= 25


def test_hostile_files_through_the_pipeline_lose_nothing(returns_home):
    """All of them in the inbox at once: one run takes each, records why, keeps every byte, writes no figures."""
    delivered = {}
    for i, (label, name, content, status, _) in enumerate(HOSTILE):
        if status == REJECTED:
            stored = deliver(returns_home, content, f"{i:02d}-{name}", "D10", "test")
            delivered[stored.reference] = (label, content)
    result = ingest(returns_home)
    assert result.success
    con = duckdb.connect(str(returns_home / "warehouse.duckdb"), read_only=True)
    try:
        outcomes = dict(con.execute("SELECT submission_ref, status FROM audit.return_submissions").fetchall())
        assert outcomes == {ref: "rejected" for ref in delivered}
        assert con.execute("SELECT count(*) FROM staging.department_returns").fetchone() == (0,)
        problems = dict(con.execute("SELECT submission_ref, count(*) FROM quarantine.return_problems "
                                    "GROUP BY 1").fetchall())
        assert set(problems) == set(delivered)  # every rejection says why
        stored = {sha: bytes(content) for sha, content in
                  con.execute("SELECT sha256, content FROM raw.return_files").fetchall()}
    finally:
        con.close()
    for label, content in delivered.values():
        if len(content) > MAX_FILE_BYTES:  # never read past the limit: kept whole in the archive instead
            assert hashlib.sha256(content).hexdigest() not in stored, label
            continue
        assert stored[hashlib.sha256(content).hexdigest()] == content, label
    assert not any(p for p in inbox_dir(returns_home).rglob("*") if p.is_file())
    archived = [p for p in archive_dir(returns_home).rglob("*") if p.is_file() and not p.name.endswith(".json")]
    assert sorted(p.read_bytes() for p in archived) == sorted(c for _, c in delivered.values())


def test_a_sender_cannot_write_outside_their_folder(tmp_path):
    stored = deliver(tmp_path, b"x", "../../../etc/passwd.csv", "D10", "test")
    assert stored.path.parent == inbox_dir(tmp_path) / "D10"
    assert stored.path.name.endswith("__passwd.csv")
    with pytest.raises(ValueError, match="not an organisation code"):
        deliver(tmp_path, b"x", "r.csv", "../D10", "test")
