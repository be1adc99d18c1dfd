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
import functools
import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field

from checks.return_contract import (
    ACCEPTED_EXTENSIONS,
    COLUMN_BY_NAME,
    COLUMN_NAMES,
    GUIDANCE_SHEET,
    LISTS_SHEET,
    MAX_FILE_BYTES,
    MAX_NOTE_CHARACTERS,
    MAX_XLSX_UNCOMPRESSED_BYTES,
    TEMPLATE_SHEET,
    VERSIONS,
    WARNINGS,
    column_letter,
    columns_of,
    header_version,
)
from tracker.return_inbox import too_large

MAX_CELLS_READ = 200_000  # far beyond a one-row return; stops a huge sheet being walked
MAX_COMPRESSION_RATIO = 200
SHOWN_CHARACTERS = 60  # how much of a value a message repeats
HEADERS_REMEMBERED = 64  # headers that matched the template, each checked once a process
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a Compound File: how VBA projects and OLE objects are kept
# Sheets of the template that are never read: they may hold anything, and may be hidden.
TEMPLATE_ONLY_SHEETS = (GUIDANCE_SHEET, LISTS_SHEET)
_NAMED_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


class ReturnFileError(ValueError):
    """The file as a whole cannot be read as a return; the message says why and what to do.

    ``sheet``: for a workbook, the sheet that was read (or was being read), when there was one.
    """

    def __init__(self, message: str, sheet: str | None = None) -> None:
        super().__init__(message)
        self.sheet = sheet


@dataclass
class ReturnTable:
    """The header and the data rows as text, with each row's spreadsheet row number.

    ``sheet``: the workbook's sheet that was read (None for a CSV file).
    """

    header: list[str]
    rows: list[tuple[int, list[str]]]
    notices: list[str] = field(default_factory=list)
    sheet: str | None = None
    version: int = 1  # the contract version the header was made with (``header_version``)


def shown(value: object, limit: int = SHOWN_CHARACTERS) -> str:
    """A value as a message may repeat it: shortened, and every control or invisible character as an escape.

    Every character Python does not count as printable (controls, terminal escape sequences, line breaks,
    bidirectional overrides, zero-width and non-breaking spaces, lone surrogates) is shown as ``\\x1b``,
    ``\\n``, ``\\u202e``..., so what the message says is what the cell holds, and nothing runs.
    """
    text = str(value)
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text):,} characters)"
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _NAMED_ESCAPES.get(c) or (
        f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
        for c in text)


def read_return_file(content: bytes, file_name: str) -> ReturnTable:
    """Read a CSV or XLSX return into text cells, or raise ReturnFileError saying what is wrong.

    Nothing else is raised, whatever the bytes: any other error while reading becomes a ReturnFileError
    saying the file is damaged.
    """
    extension = "." + file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if extension == ".xlsm":
        raise ReturnFileError("The file is a macro-enabled workbook (.xlsm). Returns cannot contain macros: "
                              "save it as an Excel Workbook (.xlsx) or as CSV UTF-8.")
    if extension not in ACCEPTED_EXTENSIONS:
        raise ReturnFileError(f"'{shown(file_name)}' is not a CSV or Excel (.xlsx) file. Save the return from the "
                              "template as .xlsx or as CSV UTF-8 (Comma delimited) and send that.")
    if len(content) == 0:
        raise ReturnFileError("The file is empty (0 bytes). Save the return again and send the saved file.")
    if len(content) > MAX_FILE_BYTES:
        raise ReturnFileError(too_large(len(content), MAX_FILE_BYTES))
    try:
        table = _read_xlsx(content) if extension == ".xlsx" else _read_csv(content)
        names, table.version = _checked_header(tuple(table.header), table.sheet)
        table.header = list(names)
    except ReturnFileError:
        raise
    except Exception as err:  # a reader failing on bytes nobody foresaw: still this file's rejection  # noqa: BLE001
        what = "workbook" if extension == ".xlsx" else "file"
        raise ReturnFileError(f"The {what} is damaged and cannot be read ({_kind_of(err)}). Save it again from "
                              "Excel as " + ("Excel Workbook (.xlsx)." if extension == ".xlsx" else
                                             "CSV UTF-8 (Comma delimited).")) from None
    table.rows = [(n, cells) for n, cells in table.rows if any(c.strip() for c in cells)]
    if not table.rows:
        where = f"of the '{shown(table.sheet)}' sheet " if table.sheet is not None else ""
        raise ReturnFileError(f"The file has the header row but no figures: fill in row 2 {where}with your return.",
                              table.sheet)
    return table


def _kind_of(err: BaseException) -> str:
    """A few plain words for what went wrong inside a reader, never the Python error itself."""
    if isinstance(err, (UnicodeError,)):
        return "its characters are not readable text"
    if isinstance(err, (zipfile.BadZipFile, EOFError, zlib.error)):
        return "its zip archive is cut short or corrupt"
    if isinstance(err, (IndexError, KeyError)):
        return "a cell refers to text or a part that is not there"
    if isinstance(err, (TypeError, ValueError)):
        return "a cell holds a value of the wrong kind"
    if isinstance(err, MemoryError):
        return "it is too large to read"
    return "its contents are not laid out as Excel writes them"


def _read_csv(content: bytes) -> ReturnTable:
    if content[:2] in (b"\xff\xfe", b"\xfe\xff") or _looks_utf16(content):
        raise ReturnFileError("The file is saved as UTF-16 (Excel's 'Unicode Text'). Save it from Excel as CSV "
                              "UTF-8 (Comma delimited) instead.")
    if b"\x00" in content:
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
    reader = csv.reader(io.StringIO(text, newline=""))
    records = []
    try:
        for record in reader:
            records.append(record)
    except csv.Error as err:
        line = reader.line_num
        if "field larger than field limit" in str(err):
            raise ReturnFileError(
                f"A cell on line {line:,} of the file is too long: more than {csv.field_size_limit():,} characters, "
                f"the most a cell can hold. The blockers note may be up to {MAX_NOTE_CHARACTERS:,} characters: "
                "shorten it (and check that a quotation mark in a note has not joined it to the cells after it)."
            ) from None
        raise ReturnFileError(f"Line {line:,} of the file cannot be read as CSV (a quotation mark or line break "
                              "is out of place). Save it from Excel as CSV UTF-8 (Comma delimited).") from None
    if any("\n" in c or "\r" in c for r in records for c in r):  # a cell across lines: was it ever closed?
        _refuse_an_unclosed_quote(text)
    # Spreadsheet row numbers count blank lines too, as Excel shows them.
    numbered = [(i + 1, r) for i, r in enumerate(records) if any(c.strip() for c in r)]
    if not numbered:
        raise ReturnFileError("The file has no header row. Start from the template, which has the column names "
                              "in row 1.")
    (_, header), *rows = numbered
    if len(header) == 1 and header[0].count(";") >= 2:
        raise ReturnFileError("The values are separated by semicolons, not commas. Save the file from Excel as CSV "
                              "UTF-8 (Comma delimited), or send the .xlsx workbook.")
    if len(header) == 1 and header[0].count("\t") >= 2:
        raise ReturnFileError("The values are separated by tabs, not commas. Save the file from Excel as CSV "
                              "UTF-8 (Comma delimited), or send the .xlsx workbook.")
    return ReturnTable(header, rows, notices)


def _refuse_an_unclosed_quote(text: str) -> None:
    """A cell that opens with a quotation mark and never closes swallows every cell after it, which would be
    reported as those cells being empty: say where the quotation mark is instead. Only called for a file with a
    cell across lines (a note Excel wrote on several lines is closed, and passes)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    started = 1
    try:
        for _ in reader:
            started = reader.line_num + 1
    except csv.Error as err:
        if "unexpected end of data" not in str(err):
            return  # other slips the lenient reading has already made sense of
        raise ReturnFileError(f"Line {started:,} of the file has a quotation mark (\") that is never closed, so every "
                              "cell after it was read as one. Remove the stray quotation mark, or, if the cell is "
                              "meant to be quoted, close it and double any quotation mark inside it (\"\"). Saving "
                              "from Excel as CSV UTF-8 does this for you.") from None


def _looks_utf16(content: bytes) -> bool:
    """UTF-16 text without its byte-order mark: one byte of each pair is always zero, the other never."""
    sample = content[:200 - len(content[:200]) % 2]
    for text, zeros in ((sample[0::2], sample[1::2]), (sample[1::2], sample[0::2])):
        if len(text) >= 8 and not zeros.strip(b"\x00") and 0 not in text and b"," in text:
            return True
    return False


def _read_xlsx(content: bytes) -> ReturnTable:
    if not zipfile.is_zipfile(io.BytesIO(content)):
        raise ReturnFileError("The file is named .xlsx but is not an Excel workbook. Open it in Excel and save "
                              "it as Excel Workbook (.xlsx).")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
            unpacked = sum(m.file_size for m in members)
            packed = max(1, sum(m.compress_size for m in members))
            if unpacked > MAX_XLSX_UNCOMPRESSED_BYTES or unpacked / packed > MAX_COMPRESSION_RATIO:
                raise ReturnFileError("The workbook unpacks to far more data than a return holds "
                                      f"({unpacked / 1_048_576:.0f} MB), so it was not opened. Start again from the "
                                      "template.")
            names = {m.filename.lower() for m in members}
            if any(n.endswith("vbaproject.bin") for n in names):
                raise ReturnFileError("The workbook contains macros. Returns cannot contain macros: copy the figures "
                                      "into the template and save it as Excel Workbook (.xlsx).")
            if "xl/workbook.xml" not in names:
                raise ReturnFileError("The file is a zip archive but not an Excel workbook. Save the return from "
                                      "Excel as Excel Workbook (.xlsx).")
            active = _active_content(archive, members)
    except ReturnFileError:
        raise
    except Exception:  # noqa: BLE001  (a zip cut short, encrypted or compressed in a way Excel never writes)
        raise ReturnFileError("The workbook is damaged and cannot be opened. Save it again from Excel as "
                              "Excel Workbook (.xlsx).") from None
    if active:
        raise ReturnFileError(f"The workbook contains {_listed(active)}. A return holds figures only, so it was not "
                              "opened: copy the figures into a fresh template (Paste Special > Values) and save "
                              "it as Excel Workbook (.xlsx).")
    import openpyxl  # only when a workbook is sent

    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=False, keep_links=False)
    except Exception:  # openpyxl raises many types for a damaged workbook  # noqa: BLE001
        raise ReturnFileError("The workbook is damaged and cannot be opened. Save it again from Excel as "
                              "Excel Workbook (.xlsx).") from None
    try:
        return _read_book(book, content)
    finally:
        try:
            book.close()
        except Exception:  # noqa: BLE001  (closing a damaged workbook must not hide why it was refused)
            pass


def _read_book(book, content: bytes) -> ReturnTable:
    """The template's sheet of an open (read-only) workbook, after checking nothing is hidden or elsewhere."""
    try:
        sheets = list(book.worksheets)
    except Exception:  # noqa: BLE001
        sheets = []
    if not sheets:
        raise ReturnFileError("The workbook has no worksheet to read. Fill in the 'Return' sheet of the template "
                              "and save it as Excel Workbook (.xlsx).")
    budget = [MAX_CELLS_READ]
    named = [s for s in sheets if s.title == TEMPLATE_SHEET] or \
        [s for s in sheets if s.title.strip().lower() == TEMPLATE_SHEET.lower()]
    others = [s for s in sheets if s.title.strip().lower() not in {t.lower() for t in TEMPLATE_ONLY_SHEETS}
              and s not in named[:1]]
    with_data = [s for s in others if _has_data(s, budget)]
    if named:
        sheet = named[0]
    elif len(with_data) == 1:
        sheet = with_data[0]  # a one-sheet workbook under another name (Excel's "Sheet1"): the sheet with the data
    elif not with_data:
        found = ", ".join(f"'{shown(s.title)}'" for s in sheets)
        raise ReturnFileError(f"The workbook has no '{TEMPLATE_SHEET}' sheet and no other sheet with figures "
                              f"(sheets found: {found}). Fill in row 2 of the '{TEMPLATE_SHEET}' sheet of the "
                              "template and save it.")
    else:
        found = ", ".join(f"'{shown(s.title)}'" for s in with_data)
        raise ReturnFileError(f"The workbook has no '{TEMPLATE_SHEET}' sheet, and figures on more than one sheet "
                              f"({found}), so it is not clear which is the return. Put the return on the "
                              f"'{TEMPLATE_SHEET}' sheet of the template and delete the others.")
    title = shown(sheet.title)
    if _state(sheet) != "visible":
        raise ReturnFileError(f"The '{title}' sheet, which holds the return, is {_hidden_words(sheet)}. A return "
                              "must show what it sends: unhide the sheet (right-click a sheet tab > Unhide), check "
                              "the figures and save.", sheet.title)
    elsewhere = [s for s in with_data if s is not sheet]
    hidden = [s for s in elsewhere if _state(s) != "visible"]
    if hidden:
        found = ", ".join(f"'{shown(s.title)}'" + (f" ({_hidden_words(s)})" if _state(s) == "veryHidden" else "")
                          for s in hidden)
        raise ReturnFileError(f"The workbook has data on hidden sheet{'s' if len(hidden) > 1 else ''} {found}; only "
                              f"the '{title}' sheet is read, and a return must show everything it holds. Delete the "
                              "hidden sheets (right-click a sheet tab > Unhide, then Delete) and save.", sheet.title)
    if elsewhere:
        found = ", ".join(f"'{shown(s.title)}'" for s in elsewhere)
        raise ReturnFileError(f"The workbook has data on the {found} sheet{'s' if len(elsewhere) > 1 else ''} as "
                              f"well as on the '{title}' sheet, which is the one read. Put the return in row 2 of "
                              f"the '{title}' sheet and delete the other sheet{'s' if len(elsewhere) > 1 else ''}, "
                              "then save.", sheet.title)
    try:
        records, formulas, invisible = _sheet_values(sheet, budget)
    except ReturnFileError:
        raise
    except Exception as err:  # noqa: BLE001  (read-only openpyxl parses the sheet here, lazily)
        raise ReturnFileError(f"The '{title}' sheet is damaged and cannot be read ({_kind_of(err)}). Save the "
                              "workbook again from Excel as Excel Workbook (.xlsx), or copy the figures into a fresh "
                              "template.", sheet.title) from None
    if formulas:
        raise ReturnFileError(f"Cell{'s' if len(formulas) > 1 else ''} {_first_few(formulas)} on the '{title}' sheet "
                              f"{'contain formulas' if len(formulas) > 1 else 'contains a formula'}. Returns must "
                              "hold values only: copy the cells and use Paste Special > Values, then save.",
                              sheet.title)
    if not records:
        raise ReturnFileError(f"The '{title}' sheet is empty. Fill in the template and save it.", sheet.title)
    _refuse_what_cannot_be_seen(sheet, content, records, invisible)
    if not any(v.strip() for v in records[0]):
        raise ReturnFileError(f"Row 1 of the '{title}' sheet is empty; it must hold the column names, as "
                              "in the template.", sheet.title)
    return ReturnTable(records[0], [(i + 2, row) for i, row in enumerate(records[1:])], sheet=sheet.title)


def _state(sheet) -> str:
    return getattr(sheet, "sheet_state", "visible") or "visible"


def _hidden_words(sheet) -> str:
    return "very hidden (it can only be seen from Excel's macro editor)" if _state(sheet) == "veryHidden" \
        else "hidden"


def _has_data(sheet, budget: list[int]) -> bool:
    """Whether any cell of the sheet holds something; a sheet that cannot be read refuses the workbook."""
    try:
        for row in sheet.iter_rows(values_only=True):
            budget[0] -= len(row)
            if budget[0] < 0:
                raise ReturnFileError(f"The workbook's '{shown(sheet.title)}' sheet has far more cells than a "
                                      "return. Start again from the template.", sheet.title)
            if any(v is not None and str(v).strip() for v in row):
                return True
    except ReturnFileError:
        raise
    except Exception as err:  # noqa: BLE001  (what you cannot see cannot be trusted: refuse the workbook)
        raise ReturnFileError(f"The workbook's '{shown(sheet.title)}' sheet is damaged and cannot be read "
                              f"({_kind_of(err)}), so what the workbook holds cannot be checked. Save the workbook "
                              "again from Excel as Excel Workbook (.xlsx), or copy the figures into a fresh "
                              "template.", sheet.title) from None
    return False


def _sheet_values(sheet, budget: list[int]) -> tuple[list[list[str]], list[str], list[str]]:
    """The sheet's cells as text, the cells holding formulas, and the cells whose value is there but not seen (a
    number format that shows nothing, like ';;;', or white text)."""
    records: list[list[str]] = []
    formulas: list[str] = []
    invisible: list[str] = []
    for row in sheet.iter_rows():
        values = []
        for cell in row:
            budget[0] -= 1
            if budget[0] < 0:
                raise ReturnFileError(f"The '{shown(sheet.title)}' sheet has far more cells than a return. Start "
                                      "again from the template.", sheet.title)
            if getattr(cell, "data_type", None) == "f":
                formulas.append(f"{column_letter(cell.column - 1)}{cell.row}")
            text = _cell_text(cell.value)
            if text.strip() and getattr(cell, "has_style", False) and _unseen(cell):
                invisible.append(f"{column_letter(cell.column - 1)}{cell.row}")
            values.append(text)
        records.append(values)
    return records, formulas, invisible


WHITE = {"FFFFFFFF", "00FFFFFF"}  # white text, as Excel writes its colour (alpha first)


def _unseen(cell) -> bool:
    """Whether a cell with a value shows nothing: a number format whose sections are all empty (';;;' shows no
    number and no text), or white text."""
    try:
        shows_nothing = not cell.number_format.replace(";", "").strip()
        colour = getattr(cell.font.color, "rgb", None)
        return shows_nothing or (isinstance(colour, str) and colour.upper() in WHITE)
    except Exception:  # noqa: BLE001  (a style that cannot be read hides nothing that the value does not say)
        return False


# Rows and columns Excel has hidden, and cells merged into one, as the sheet's XML says them (openpyxl's read-only
# sheets do not read these). Read from the bytes, never parsed as XML, so nothing in them is expanded.
HIDDEN_ROW = re.compile(rb"<(?:\w+:)?row\b(?=[^>]*\bhidden\s*=\s*[\"'](?:1|true)[\"'])[^>]*\br\s*=\s*[\"'](\d+)[\"']")
HIDDEN_COLUMNS = re.compile(rb"<(?:\w+:)?col\b(?=[^>]*\bhidden\s*=\s*[\"'](?:1|true)[\"'])"
                            rb"(?=[^>]*\bmin\s*=\s*[\"'](\d+)[\"'])(?=[^>]*\bmax\s*=\s*[\"'](\d+)[\"'])")
MERGED = re.compile(rb"<(?:\w+:)?mergeCell\b[^>]*\bref\s*=\s*[\"']([A-Za-z]+)(\d+)(?::([A-Za-z]+)(\d+))?[\"']")


def _refuse_what_cannot_be_seen(sheet, content: bytes, records: list[list[str]], invisible: list[str]) -> None:
    """A return must show everything it sends: a value in a hidden row or column, or in cells merged into one (whose
    value Excel shows across cells that are empty), or a value formatted to show nothing, refuses the workbook."""
    from openpyxl.utils.cell import column_index_from_string  # openpyxl is already imported for the workbook

    title = shown(sheet.title)
    with_data = {i + 1 for i, values in enumerate(records) if any(v.strip() for v in values)}
    columns = max((i + 1 for values in records for i, v in enumerate(values) if v.strip()), default=0)
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            xml = archive.read(sheet._worksheet_path)  # noqa: SLF001  (openpyxl's name for the sheet's part)
    except Exception as err:  # noqa: BLE001  (what cannot be read cannot be trusted)
        raise ReturnFileError(f"The '{title}' sheet cannot be read in full ({_kind_of(err)}). Save the workbook "
                              "again from Excel as Excel Workbook (.xlsx).", sheet.title) from None
    hidden_rows = sorted({int(r) for r in HIDDEN_ROW.findall(xml)} & with_data)
    if hidden_rows:
        raise ReturnFileError(f"Row{'s' if len(hidden_rows) > 1 else ''} {_first_few(hidden_rows)} of the "
                              f"'{title}' sheet {'are' if len(hidden_rows) > 1 else 'is'} hidden. A return must show "
                              "what it sends: unhide the rows (select them, right-click > Unhide), check the figures "
                              "and save.",
                              sheet.title)
    hidden_columns = sorted({c for low, high in HIDDEN_COLUMNS.findall(xml)
                             for c in range(int(low), min(int(high), columns) + 1)})
    if hidden_columns:
        letters = _first_few([column_letter(c - 1) for c in hidden_columns])
        raise ReturnFileError(f"Column{'s' if len(hidden_columns) > 1 else ''} {letters} of the '{title}' sheet "
                              f"{'are' if len(hidden_columns) > 1 else 'is'} hidden. A return must show what it "
                              "sends: unhide the columns (select them, right-click > Unhide), check the figures and "
                              "save.", sheet.title)
    merged = [f"{a.decode().upper()}{r1.decode()}" + (f":{b.decode().upper()}{r2.decode()}" if b else "")
              for a, r1, b, r2 in MERGED.findall(xml)  # those over a row of the return, from its first columns
              if with_data & set(range(int(r1), int(r2 or r1) + 1))
              and column_index_from_string(a.decode()) <= max(columns, 1)]
    if merged:
        raise ReturnFileError(f"Cells {', '.join(merged[:5])} of the '{title}' sheet are merged. A return has one "
                              "value in each cell: unmerge them (Home > Merge & Center), put each figure in its own "
                              "cell and save.", sheet.title)
    if invisible:
        raise ReturnFileError(f"Cell{'s' if len(invisible) > 1 else ''} {_first_few(invisible)} of the '{title}' sheet "
                              f"{'hold values that are' if len(invisible) > 1 else 'holds a value that is'} not "
                              "shown (a number format that shows nothing, such as ;;;, or white text). A return must "
                              "show what it sends: give the cells the General format and a visible colour, check "
                              "the figures and save.", sheet.title)


def _active_content(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> list[str]:
    """What the workbook holds besides values: macros, links to other files, DDE, embedded objects, connections.

    Judged by what each part is (its content type, its relationships, its first bytes), not by its name: a VBA
    project renamed 'data.bin' is still found.
    """
    types = _content_types(archive)
    found: dict[str, list[str]] = {}

    def add(what: str, part: str) -> None:
        found.setdefault(what, []).append(part)

    for member in members:
        name = member.filename
        lower = name.lower().lstrip("/")
        kind = types.get(lower) or types.get("." + lower.rsplit(".", 1)[-1], "")
        kind = kind.lower()
        if member.is_dir():
            continue
        with archive.open(member) as stream:
            head = stream.read(8)
        if "vbaproject" in kind or "macroenabled" in kind or "vbaproject" in lower:
            add("macros (a VBA project)", name)
        elif "macrosheet" in kind or lower.startswith("xl/macrosheets/"):
            add("Excel 4.0 macro sheets", name)
        elif "externallink" in kind or lower.startswith("xl/externallinks/"):
            body = archive.read(member)
            if b"ddeLink" in body:
                add("DDE links (a formula that runs another program)", name)
            elif b"oleLink" in body:
                add("links to OLE objects", name)
            else:
                add("links to other workbooks (external links)", name)
        elif "oleobject" in kind or lower.startswith("xl/embeddings/"):
            add("embedded objects (OLE)", name)
        elif "activex" in kind or lower.startswith("xl/activex/"):
            add("ActiveX controls", name)
        elif "connections" in kind or lower == "xl/connections.xml" or lower.startswith("xl/querytables/"):
            add("data connections (to a database, file or web page)", name)
        elif head.startswith(OLE_SIGNATURE):
            add("an embedded binary file (an OLE compound file, as a VBA project or an embedded object is kept)",
                name)
        elif lower.endswith(".rels"):
            body = archive.read(member)
            for relation in re.findall(rb"Type\s*=\s*[\"']([^\"']*)[\"']", body):
                relation = relation.lower()
                if relation.endswith(b"/vbaproject"):
                    add("macros (a VBA project)", name)
                elif relation.endswith((b"/externallink", b"/externallinkpath")):
                    add("links to other workbooks (external links)", name)
                elif relation.endswith((b"/oleobject", b"/package")):
                    add("embedded objects (OLE)", name)
        elif lower.startswith("xl/worksheets/") and lower.endswith(".xml"):
            body = archive.read(member)
            if re.search(rb"<(?:\w+:)?oleObjects?\b", body):
                add("embedded objects (OLE)", name)
    return [f"{what} in {', '.join(repr(shown(p)) for p in sorted(set(parts))[:3])}"
            + (" and other parts" if len(set(parts)) > 3 else "") for what, parts in found.items()]


def _content_types(archive: zipfile.ZipFile) -> dict[str, str]:
    """Part name (lower case, no leading slash) or '.extension' -> content type, from [Content_Types].xml."""
    try:
        body = archive.read("[Content_Types].xml")
    except KeyError:
        return {}
    types = {}
    for element, attributes in re.findall(rb"<(?:\w+:)?(Default|Override)\b([^>]*)>", body):
        values = {k.decode().lower(): v.decode("utf-8", "replace")
                  for k, v in re.findall(rb"(\w+)\s*=\s*[\"']([^\"']*)[\"']", attributes)}
        if element == b"Default" and "extension" in values:
            types["." + values["extension"].lower()] = values.get("contenttype", "")
        elif element == b"Override" and "partname" in values:
            types[values["partname"].lower().lstrip("/")] = values.get("contenttype", "")
    return types


def _first_few(items: list, most: int = 5) -> str:
    """'L2, M2 and others': the first of many cells, rows or columns a message names."""
    return ", ".join(map(str, items[:most])) + (" and others" if len(items) > most else "")


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _cell_text(value: object) -> str:
    """Spreadsheet values as the text a person typed: 12.0 -> '12', dates as YYYY-MM-DD, 1E+308 as Excel shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".15g").upper()  # Excel's General format: 1E+308, not a 309-digit number
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    return str(value)


@functools.lru_cache(maxsize=HEADERS_REMEMBERED)
def _checked_header(header: tuple[str, ...], sheet: str | None) -> tuple[tuple[str, ...], int]:
    """The header's column names and the version it was made with. Nearly every return has one of a few headers,
    so each is checked once a process (a header that does not match raises each time: nothing is kept of it)."""
    names = _check_header(list(header), sheet)
    return tuple(names), header_version(names)


def _check_header(header: list[str], sheet: str | None = None) -> list[str]:
    names = [h.strip().lstrip("\ufeff").strip().lower() for h in header]
    while names and not names[-1]:
        names.pop()  # Excel writes trailing empty columns
    expected = set(COLUMN_NAMES)
    # The columns of the version the header was made with (an earlier template's header has fewer).
    version = header_version(names)
    missing = [c.name for c in columns_of(version) if c.name not in names]
    unknown = [shown(n, 40) if n else "(blank)" for n in names if n not in expected]
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    where = f"Row 1 of the '{shown(sheet)}' sheet (the sheet read)" if sheet is not None else "The header row"
    if not (missing or unknown or repeated):
        # Every problem names the column where the template has it, so the columns must be where the template
        # has them: a moved column would have its problems told in another column's place.
        template = [c.name for c in columns_of(version)]
        moved = next((at for at, (name, placed) in enumerate(zip(names, template, strict=True)) if name != placed),
                     None)
        if moved is None:
            return names
        raise ReturnFileError(
            f"{where} has the template's columns, but not in the template's order: column {column_letter(moved)} "
            f"is {names[moved]}, where the template has {template[moved]} (and {names[moved]} in column "
            f"{column_letter(template.index(names[moved]))}). Put the columns back in the template's order, or "
            "copy your figures into a fresh template.", sheet)
    partial = {COLUMN_BY_NAME[c].since for c in missing}
    if not (unknown or repeated) and partial == {version} and version > 1:  # part of the newest section only
        section = VERSIONS[version - 1]
        raise ReturnFileError(
            f"{where} has only some of the columns of the {section.section} section (added in version {version} of "
            "the return): "
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}. Add "
            f"{'them' if len(missing) > 1 else 'it'} from the current template, or delete the section's other "
            "columns to send the return without it (a return without the section is accepted).", sheet)
    if len(missing) == len(columns_of(version)):
        found = ", ".join(f"'{n}'" for n in unknown[:3]) + (" ..." if len(unknown) > 3 else "")
        raise ReturnFileError(f"{where} holds none of the template's {len(COLUMN_NAMES)} column names (it starts "
                              f"{found}). Row 1 must hold the template's column names exactly; copy your figures "
                              "into a fresh template.", sheet)
    parts = []
    if missing:
        parts.append(f"missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    if unknown:
        parts.append(f"column{'s' if len(unknown) > 1 else ''} the return does not have: {', '.join(unknown[:8])}"
                     + (" and others" if len(unknown) > 8 else ""))
    if repeated:
        parts.append(f"column{'s' if len(repeated) > 1 else ''} named twice: {', '.join(repeated)}")
    raise ReturnFileError(f"{where} does not match the template (" + "; ".join(parts) + "). Row 1 must "
                          "hold the template's column names exactly; copy your figures into a fresh template.", sheet)
