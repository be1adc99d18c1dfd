"""Reading a return file safely: CSV (as Excel writes it) or XLSX, into rows of text.

Everything a hostile or broken file can do is turned into a ``ReturnFileError``
with a sentence a department analyst can act on: wrong type, empty, too big,
binary, a zip bomb, macros, formulas, a header that is not the template's.
Nothing here raises anything else for bad input.

It stays in checks/, not in the core (tracker/), because it is the contract
applied to a file: the accepted types, the size limits, the sheet and the
header it enforces all come from checks/return_contract.py, and its errors
are part of what "valid" means for a return.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field

from checks.return_contract import (
    ACCEPTED_EXTENSIONS,
    COLUMN_NAMES,
    MAX_FILE_BYTES,
    MAX_XLSX_UNCOMPRESSED_BYTES,
    TEMPLATE_SHEET,
    WARNINGS,
    column_letter,
)

MAX_CELLS_READ = 200_000  # far beyond a one-row return; stops a huge sheet being walked
MAX_COMPRESSION_RATIO = 200


class ReturnFileError(ValueError):
    """The file as a whole cannot be read as a return; the message says why and what to do."""


@dataclass
class ReturnTable:
    """The header and the data rows as text, with each row's spreadsheet row number."""

    header: list[str]
    rows: list[tuple[int, list[str]]]
    notices: list[str] = field(default_factory=list)


def read_return_file(content: bytes, file_name: str) -> ReturnTable:
    """Read a CSV or XLSX return into text cells, or raise ReturnFileError saying what is wrong."""
    extension = "." + file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if extension == ".xlsm":
        raise ReturnFileError("The file is a macro-enabled workbook (.xlsm). Returns cannot contain macros: "
                              "save it as an Excel Workbook (.xlsx) or as CSV UTF-8.")
    if extension not in ACCEPTED_EXTENSIONS:
        raise ReturnFileError(f"'{file_name}' is not a CSV or Excel (.xlsx) file. Save the return from the "
                              "template as .xlsx or as CSV UTF-8 (Comma delimited) and send that.")
    if len(content) == 0:
        raise ReturnFileError("The file is empty (0 bytes). Save the return again and send the saved file.")
    if len(content) > MAX_FILE_BYTES:
        raise ReturnFileError(f"The file is {len(content) / 1_048_576:.1f} MB; the limit is "
                              f"{MAX_FILE_BYTES // 1_048_576} MB. A return is one row of figures: start again "
                              "from the template.")
    table = _read_xlsx(content) if extension == ".xlsx" else _read_csv(content)
    table.header = _check_header(table.header)
    table.rows = [(n, cells) for n, cells in table.rows if any(c.strip() for c in cells)]
    if not table.rows:
        raise ReturnFileError("The file has the header row but no figures. Fill in row 2 with your return.")
    return table


def _read_csv(content: bytes) -> ReturnTable:
    if content[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ReturnFileError("The file is saved as UTF-16 (Excel's 'Unicode Text'). Save it from Excel as CSV "
                              "UTF-8 (Comma delimited) instead.")
    if b"\x00" in content[:4096]:
        raise ReturnFileError("The file is not a text CSV file (it contains binary data). Save the return as "
                              "CSV UTF-8 (Comma delimited) from Excel, or send the .xlsx workbook.")
    notices = []
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("cp1252")
        except UnicodeDecodeError:
            raise ReturnFileError("The file's characters cannot be read: it is neither UTF-8 nor Windows-1252 "
                                  "text. Save it from Excel as CSV UTF-8 (Comma delimited).") from None
        notices.append(WARNINGS["windows_encoding"])
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as err:
        raise ReturnFileError(f"The file is not valid CSV ({err}). Save it from Excel as CSV UTF-8 "
                              "(Comma delimited).") from None
    # Spreadsheet row numbers count blank lines too, as Excel shows them.
    numbered = [(i + 1, r) for i, r in enumerate(records) if any(c.strip() for c in r)]
    if not numbered:
        raise ReturnFileError("The file has no header row. Start from the template, which has the column names "
                              "in row 1.")
    (_, header), *rows = numbered
    if len(header) == 1 and header[0].count(";") >= 2:
        raise ReturnFileError("The values are separated by semicolons, not commas. Save the file from Excel as CSV "
                              "UTF-8 (Comma delimited), or send the .xlsx workbook.")
    return ReturnTable(header, rows, notices)


def _read_xlsx(content: bytes) -> ReturnTable:
    if not zipfile.is_zipfile(io.BytesIO(content)):
        raise ReturnFileError("The file is named .xlsx but is not an Excel workbook. Open it in Excel and save "
                              "it as Excel Workbook (.xlsx).")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ReturnFileError("The workbook is damaged and cannot be opened. Save it again from Excel.") from None
    unpacked = sum(m.file_size for m in members)
    packed = max(1, sum(m.compress_size for m in members))
    if unpacked > MAX_XLSX_UNCOMPRESSED_BYTES or unpacked / packed > MAX_COMPRESSION_RATIO:
        raise ReturnFileError("The workbook unpacks to far more data than a return holds "
                              f"({unpacked / 1_048_576:.0f} MB), so it was not opened. Start again from the template.")
    names = {m.filename.lower() for m in members}
    if any(n.endswith("vbaproject.bin") for n in names):
        raise ReturnFileError("The workbook contains macros. Returns cannot contain macros: copy the figures into "
                              "the template and save it as Excel Workbook (.xlsx).")
    if "xl/workbook.xml" not in names:
        raise ReturnFileError("The file is a zip archive but not an Excel workbook. Save the return from Excel "
                              "as Excel Workbook (.xlsx).")
    import openpyxl  # only when a workbook is sent

    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=False, keep_links=False)
    except Exception:  # openpyxl raises many types for a damaged workbook  # noqa: BLE001
        raise ReturnFileError("The workbook is damaged and cannot be opened. Save it again from Excel as "
                              "Excel Workbook (.xlsx).") from None
    try:
        sheet = book[TEMPLATE_SHEET] if TEMPLATE_SHEET in book.sheetnames else book.worksheets[0]
        records, formulas, cells = [], [], 0
        for row in sheet.iter_rows():
            values = []
            for cell in row:
                cells += 1
                if cells > MAX_CELLS_READ:
                    raise ReturnFileError(f"The '{sheet.title}' sheet has far more cells than a return. Start again "
                                          "from the template.")
                if getattr(cell, "data_type", None) == "f":
                    formulas.append(f"{column_letter(cell.column - 1)}{cell.row}")
                values.append(_cell_text(cell.value))
            records.append(values)
    finally:
        book.close()
    if formulas:
        shown = ", ".join(formulas[:5]) + (" and others" if len(formulas) > 5 else "")
        raise ReturnFileError(f"Cell{'s' if len(formulas) > 1 else ''} {shown} on the '{sheet.title}' sheet "
                              "contain formulas. Returns must hold values only: copy the cells and use Paste "
                              "Special > Values, then save.")
    if records and not any(v.strip() for v in records[0]):
        raise ReturnFileError(f"Row 1 of the '{sheet.title}' sheet is empty; it must hold the column names, as "
                              "in the template.")
    if not records:
        raise ReturnFileError(f"The '{sheet.title}' sheet is empty. Fill in the template and save it.")
    return ReturnTable(records[0], [(i + 2, row) for i, row in enumerate(records[1:])])


def _cell_text(value: object) -> str:
    """Spreadsheet values as the text a person typed: 12.0 -> '12', dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    return str(value)


def _check_header(header: list[str]) -> list[str]:
    names = [h.strip().lstrip("\ufeff").strip().lower() for h in header]
    while names and not names[-1]:
        names.pop()  # Excel writes trailing empty columns
    expected = set(COLUMN_NAMES)
    missing = [c for c in COLUMN_NAMES if c not in names]
    unknown = [n or "(blank)" for n in names if n not in expected]
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if not (missing or unknown or repeated):
        return names
    parts = []
    if missing:
        parts.append(f"missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    if unknown:
        parts.append(f"column{'s' if len(unknown) > 1 else ''} the return does not have: {', '.join(unknown[:8])}"
                     + (" and others" if len(unknown) > 8 else ""))
    if repeated:
        parts.append(f"column{'s' if len(repeated) > 1 else ''} named twice: {', '.join(repeated)}")
    raise ReturnFileError("The header row does not match the template (" + "; ".join(parts) + "). Row 1 must "
                          "hold the template's column names exactly; copy your figures into a fresh template.")
