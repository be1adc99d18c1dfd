"""Building return files for tests: a valid return, then one change at a time."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile

from checks.return_contract import COLUMN_NAMES, columns_of

AS_OF = dt.date(2026, 1, 31)
KNOWN = {"D10", "EA73", "EA74", "D16"}

VALID = {
    "organisation_code": "D10", "reporting_quarter": "2025-26 Q3",
    "one_login_services_in_scope": "30", "one_login_services_live": "6", "one_login_services_planned": "9",
    "one_login_transactions": "2600000",
    "verify_services_in_scope": "", "verify_services_live": "", "verify_services_planned": "",
    "verify_transactions": "",
    "pay_services_in_scope": "20", "pay_services_live": "8", "pay_services_planned": "2", "pay_transactions": "425000",
    "notify_services_in_scope": "45", "notify_services_live": "39", "notify_services_planned": "3",
    "notify_transactions": "10100000",
    "forms_services_in_scope": "25", "forms_services_live": "7", "forms_services_planned": "5",
    "forms_transactions": "44000",
    "forms_total": "420", "forms_online": "268", "forms_paper_only": "152",
    "data_sharing_agreements": "39", "apis_published": "9",
    "blockers_note": "Waiting for a supplier contract to end.",
    "ddat_staff_fte": "412.5", "ddat_vacancies": "37", "senior_civil_servants": "85",
    "senior_civil_servants_trained": "12",
    "main_barrier_1": "legacy technology", "main_barrier_2": "digital skills", "main_barrier_3": "",
}
# The header of a return made with the version 1 template (before the skills section).
VERSION_1_HEADER = [c.name for c in columns_of(1)]


def row(**changes: str) -> dict:
    return VALID | changes


def csv_bytes(*rows: dict, header: list[str] | None = None, encoding: str = "utf-8") -> bytes:
    header = header or COLUMN_NAMES
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(h, "") for h in header])
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(*rows: dict, formulas: dict[str, str] | None = None, header: list[str] | None = None) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Return"
    sheet.append(header or COLUMN_NAMES)
    for r in rows:
        sheet.append([int(v) if v.isdigit() else (v or None) for v in (r.get(h, "") for h in header or COLUMN_NAMES)])
    for cell, formula in (formulas or {}).items():
        sheet[cell] = formula
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def check(content: bytes, name: str = "return.csv", submitter: str | None = None):
    from checks.return_validation import validate_return

    return validate_return(content, name, KNOWN, AS_OF, submitter=submitter)


def zip_members(content: bytes) -> dict[str, bytes]:
    """A workbook (or any zip) as its parts, name -> bytes."""
    archive = zipfile.ZipFile(io.BytesIO(content))
    return {name: archive.read(name) for name in archive.namelist()}


def zip_parts(parts: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """Parts, name -> bytes, as a zip: a workbook put back together (or a zip that only looks like one).

    Each member is dated 1 January 1980 (zip's first date), not the current second, so the same parts give the
    same bytes whenever they are zipped.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in parts.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, compress_type=compression)
    return buffer.getvalue()
