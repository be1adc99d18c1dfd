"""The CSV and Excel templates, generated from the contract so they can never drift from it.

The Excel template has three sheets: 'Return' (the column names in row 1 and
one row to fill in, each cell with an input message and a data-validation
rule: whole numbers and numbers with decimals within bounds, a drop-down of
quarters, of organisation codes and of barriers), 'Guidance' (the contract
version the template is, then every column explained), and 'Lists' (the
drop-downs' values, with each organisation's name beside its code).

The CSV template states its version by its header: each version adds named
columns, so row 1 says which version a file was made with, and an old CSV
(which never had a version column) is read just as reliably.

It stays in checks/, not in the core (tracker/), because it is the contract
written out as a file: every column, bound, drop-down, rule and guidance line
comes from checks/return_contract.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

from checks.return_contract import (
    CODE,
    COLUMNS,
    COUNT,
    CROSS_FIELD_RULES,
    CURRENT_VERSION,
    GUIDANCE_SHEET,
    LISTS_SHEET,
    MAX_NOTE_CHARACTERS,
    NUMBER,
    NUMBER_DECIMAL_PLACES,
    QUARTER,
    QUARTER_SPELLINGS_ACCEPTED,
    TEMPLATE_SHEET,
    TEXT,
    VERSIONS,
    Quarter,
    column_letter,
    columns_of,
    first_quarter,
)

CSV_TEMPLATE = "department_return_template.csv"
XLSX_TEMPLATE = "department_return_template.xlsx"
GUIDANCE_HEADER = ["Column", "Name in row 1", "What it is", "Required", "What to enter", "Example", "Rules"]
CHOICES_LIST_COLUMN = "F"  # where the Lists sheet keeps the values of the pick-from-a-list columns


def version_statement() -> str:
    """What the template says about its version: which it is, what each added, and that earlier ones still count."""
    added = "; ".join(f"version {v.number}: {v.title} (columns {column_letter(COLUMNS.index(first))} to "
                      f"{column_letter(COLUMNS.index(columns_of(v.number)[-1]))})"
                      for v in VERSIONS for first in [columns_of(v.number)[len(columns_of(v.number - 1))]])
    return (f"This is version {CURRENT_VERSION} of the department return ({added}). A return made with an earlier "
            "template, without the later columns, is still accepted and recorded as not reporting them; the version "
            "is read from the column names in row 1.")


def template_quarters(today: dt.date) -> list[str]:
    """The drop-down: every quarter from the first the tracker keeps to the end of next financial year."""
    quarter, last, labels = Quarter.parse(first_quarter()), Quarter(Quarter.containing(today).year + 1, 4), []
    while quarter <= last:
        labels.append(quarter.label)
        quarter = quarter.next()
    return labels


def csv_template(organisation_code: str | None = None, quarter: str | None = None) -> str:
    """The header row; with an organisation and a quarter, a second row with those two filled in (the upload page's
    download, so the sender starts from the right key)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.name for c in COLUMNS])
    if organisation_code and quarter:
        writer.writerow([_prefilled(c.name, organisation_code, quarter) or "" for c in COLUMNS])
    return buffer.getvalue()


def _prefilled(name: str, organisation_code: str | None, quarter: str | None) -> str | None:
    return {"organisation_code": organisation_code, "reporting_quarter": quarter}.get(name)


def guidance_rows() -> list[list[str]]:
    """One row per column: what the Guidance sheet (and the dashboard's help) says about it."""
    rules: dict[str, list[str]] = {}
    for rule in CROSS_FIELD_RULES:
        rules.setdefault(rule.column, []).append(rule.fix)
    rows = []
    for i, c in enumerate(COLUMNS):
        if c.kind == NUMBER:
            what = (f"A number from 0 to {c.maximum:,}, with up to {NUMBER_DECIMAL_PLACES} decimal places (412.5). "
                    f"More places are rounded to {NUMBER_DECIMAL_PLACES}, and commas between thousands are accepted.")
        elif c.choices:
            what = "Pick from the drop-down: " + ", ".join(c.choices) + "."
        elif c.kind == COUNT:
            what = (f"A whole number from 0 to {c.maximum:,}. Also accepted: commas between thousands and a "
                    "decimal part of zeros (410,000.00 is read as 410000), and a dash (-) for zero, as Excel's "
                    "Comma and Accounting styles write them.")
        elif c.kind == QUARTER:
            what = (f"Pick from the drop-down, like 2025-26 Q3. Also accepted, and read as 2025-26 Q3: "
                    f"{QUARTER_SPELLINGS_ACCEPTED.replace('2025-26 Q3, ', '', 1)}, with any spacing.")
        elif c.kind == CODE:
            what = "Pick your code from the drop-down (names are on the Lists sheet)."
        else:
            what = f"Plain text, up to {MAX_NOTE_CHARACTERS:,} characters."
        required = ("Yes" if c.since == 1 else f"Yes, from version {c.since}") if c.required else "No"
        rows.append([column_letter(i), c.name, c.help, required, what, c.example,
                     " ".join(rules.get(c.name, []))])
    return rows


def xlsx_template(organisations: Sequence[tuple[str, str]], today: dt.date, organisation_code: str | None = None,
                  quarter: str | None = None) -> bytes:
    """The Excel template; ``organisations`` is (code, name) for the organisation drop-down. With an organisation
    and a quarter, row 2 starts with those two filled in."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    sheet = book.active
    sheet.title = TEMPLATE_SHEET
    sheet.append([c.name for c in COLUMNS])
    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold
        cell.fill = PatternFill("solid", fgColor="DDDDDD")
    sheet.freeze_panes = "C2"

    lists = book.create_sheet(LISTS_SHEET)
    quarters = template_quarters(today)
    choices = next((c.choices for c in COLUMNS if c.choices), ())
    lists.append(["Reporting quarter", "", "Organisation code", "Organisation name", "", "Barrier"])
    for i in range(max(len(quarters), len(organisations), len(choices))):
        code, name = organisations[i] if i < len(organisations) else ("", "")
        lists.append([quarters[i] if i < len(quarters) else None, None, code or None, name or None, None,
                      choices[i] if i < len(choices) else None])
    for cell in lists[1]:
        cell.font = bold

    for i, c in enumerate(COLUMNS):
        letter = column_letter(i)
        sheet.column_dimensions[letter].width = max(14, min(40, len(c.name) + 2))
        if c.kind == COUNT:
            rule = DataValidation(type="whole", operator="between", formula1="0", formula2=str(c.maximum),
                                  allow_blank=not c.required, showErrorMessage=True,
                                  errorTitle="Whole number needed",
                                  error=f"Enter a whole number from 0 to {c.maximum:,}.")
        elif c.kind == NUMBER:
            rule = DataValidation(type="decimal", operator="between", formula1="0", formula2=str(c.maximum),
                                  allow_blank=True, showErrorMessage=True, errorTitle="Number needed",
                                  error=f"Enter a number from 0 to {c.maximum:,}, like {c.example}.")
        elif c.choices:
            assert c.choices == choices, "one list of choices on the Lists sheet"
            rule = DataValidation(type="list", allow_blank=not c.required, showErrorMessage=True,
                                  formula1=f"={LISTS_SHEET}!${CHOICES_LIST_COLUMN}$2:${CHOICES_LIST_COLUMN}$"
                                           f"{len(c.choices) + 1}",
                                  errorTitle="Pick from the list", error="Pick a barrier from the list.")
        elif c.kind == QUARTER:
            rule = DataValidation(type="list", formula1=f"={LISTS_SHEET}!$A$2:$A${len(quarters) + 1}",
                                  showErrorMessage=True, errorTitle="Pick a quarter",
                                  error="Pick the quarter from the list, like 2025-26 Q3.")
        elif c.kind == CODE:
            rule = DataValidation(type="list", formula1=f"={LISTS_SHEET}!$C$2:$C${len(organisations) + 1}",
                                  showErrorMessage=True, errorTitle="Pick your organisation code",
                                  error="Pick your organisation's code from the list (names are on the Lists sheet).")
        elif c.kind == TEXT:
            rule = DataValidation(type="textLength", operator="lessThanOrEqual", formula1=str(MAX_NOTE_CHARACTERS),
                                  allow_blank=True, showErrorMessage=True, errorTitle="Note too long",
                                  error=f"Keep the note to {MAX_NOTE_CHARACTERS:,} characters.")
        rule.promptTitle = c.label[:32]
        rule.prompt = c.help[:255]
        rule.showInputMessage = True
        rule.add(f"{letter}2")
        if organisation_code and quarter and _prefilled(c.name, organisation_code, quarter):
            sheet[f"{letter}2"] = _prefilled(c.name, organisation_code, quarter)
        sheet.add_data_validation(rule)
    sheet[f"{column_letter(COLUMNS.index(next(c for c in COLUMNS if c.kind == TEXT and not c.choices)))}2"
          ].alignment = Alignment(wrap_text=True)
    book.properties.title = f"Department return, version {CURRENT_VERSION}"
    book.properties.keywords = f"contract_version={CURRENT_VERSION}"

    guidance = book.create_sheet(GUIDANCE_SHEET)
    guidance.append([
        f"{version_statement()} "
        "How to fill in the department return. Fill in row 2 of the 'Return' sheet: one row, for your "
        "organisation, for one quarter. Do not rename or move the columns in row 1. Save as Excel Workbook "
        "(.xlsx) or CSV UTF-8, then check it with `tracker validate FILE`. Only the 'Return' sheet is read: a"
        " workbook with figures on any other sheet, hidden sheets with data, macros, links to other files or "
        "embedded objects is refused. Stray spaces around a value are ignored; the tracker records any value "
        "it reads differently from how it is written (see 'What to enter')."])
    guidance.append([])
    guidance.append(GUIDANCE_HEADER)
    for row in guidance_rows():
        guidance.append(row)
    for cell in guidance[3]:
        cell.font = bold
    for letter, width in zip("ABCDEFG", (8, 34, 70, 9, 40, 12, 50), strict=True):
        guidance.column_dimensions[letter].width = width
    for row in guidance.iter_rows(min_row=4):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def write_templates(folder: Path, organisations: Sequence[tuple[str, str]], today: dt.date) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, xlsx_path = folder / CSV_TEMPLATE, folder / XLSX_TEMPLATE
    csv_path.write_text(csv_template(), encoding="utf-8-sig", newline="")
    xlsx_path.write_bytes(xlsx_template(organisations, today))
    return [csv_path, xlsx_path]
