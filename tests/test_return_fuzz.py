"""Randomly damaged returns through the validator: never an exception, only clean, printable rejections.

A seeded generator (no Hypothesis: nothing to add to the lock file) makes at least 1,000 variants per run of
the shipped sample workbook, the Excel template filled in (with its Lists and Guidance sheets) and a sample
CSV: cut short, bytes flipped or inserted, cells retyped, sheets hidden, renamed, reordered or removed, parts
of the zip removed or added, encodings changed. Each goes through ``read_return_file`` (which may only raise
``ReturnFileError``) and ``validate_return`` (which may not raise at all), and every message must be
printable, free of Python's words, and not the tracker's own-fault message.

A variant that fails is written to ``tests/corpus/returns/`` (named by its sha256) before the test fails;
``test_the_corpus_replays`` runs every saved file on every run, so a fixed failure stays fixed. Set
RETURN_FUZZ_SEED to explore other variants and RETURN_FUZZ_COUNT to try more.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import time
from pathlib import Path

import pytest

from checks.return_files import ReturnFileError, read_return_file
from checks.return_validation import UNCHECKED, validate_return
from tests.returns_helpers import AS_OF, KNOWN, zip_members, zip_parts

ROOT = Path(__file__).parent.parent
SAMPLE_XLSX = (ROOT / "data/returns/samples/ILLUSTRATIVE_D10_2025-26_Q3.xlsx").read_bytes()
SAMPLE_CSV = (ROOT / "data/returns/samples/ILLUSTRATIVE_EA73_2025-26_Q3_first.csv").read_bytes()
CORPUS = Path(__file__).parent / "corpus" / "returns"
SEED = int(os.environ.get("RETURN_FUZZ_SEED", "20261203"))
COUNT = int(os.environ.get("RETURN_FUZZ_COUNT", "1100"))  # variants per run, workbooks and CSV files together
PYTHON_WORDS = ("Traceback", "Error:", "Error(", "Exception", "errno", 'File "', "line None", "NoneType",
                "object has no attribute", "<class ")

# Values a cell may be retyped to: the lenient, the hostile and the nonsense.
CELL_VALUES = [
    "", " ", "0", "-", "- ", "thirty", "410,000.00", "1E+308", "1" + "0" * 400, "-5", "7.5", "NaN", "inf", "TRUE",
    "=1+1", "+SUM(A1)", "@cmd", "\t9", "\x1b[31mD10\x1b[0m", "D10\x00", "\u202eD10", "\u200b5", "２５", "٣",
    "2025/26 Q3", "Q3 2025-26", "2025-27 Q3", "2025\u201326 Q3", "d10", "XX1", "EA73", "é" * 1200, '"', '""',
    "a\nb", "a\r\nb", "\ud800", "\U0001f600", "x" * 70_000,
]
CELL_TYPES = [b"s", b"n", b"b", b"e", b"d", b"str", b"inlineStr", b"zz"]
ENCODINGS = ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252", "latin-1", "mac_roman", "utf-8-sig",
             "shift_jis", "cp037", "utf-7"]


def _filled_template() -> bytes:
    """The Excel template (Return, Lists and Guidance sheets, drop-downs) with row 2 filled in."""
    import datetime as dt

    from openpyxl import load_workbook

    from checks.return_contract import COLUMN_NAMES
    from checks.return_templates import xlsx_template
    from tests.returns_helpers import VALID

    book = load_workbook(io.BytesIO(xlsx_template([("D10", "Department for Work and Pensions")], dt.date(2026, 1, 15))))
    for i, name in enumerate(COLUMN_NAMES, start=1):
        value = VALID[name]
        book["Return"].cell(2, i, int(value) if value.isdigit() else (value or None))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


FILLED_TEMPLATE = _filled_template()
XLSX_BASES = [(SAMPLE_XLSX, zip_members(SAMPLE_XLSX)), (FILLED_TEMPLATE, zip_members(FILLED_TEMPLATE))]


# --- Damage of any bytes -------------------------------------------------------------------------------------


def _truncate(rng: random.Random, content: bytes) -> bytes:
    return content[: rng.randrange(0, len(content))]


def _flip(rng: random.Random, content: bytes) -> bytes:
    damaged = bytearray(content)
    for _ in range(rng.choice([1, 2, 5, 20])):
        position = rng.randrange(len(damaged))
        damaged[position] = rng.randrange(256)
    return bytes(damaged)


def _insert(rng: random.Random, content: bytes) -> bytes:
    position = rng.randrange(len(content) + 1)
    return content[:position] + bytes(rng.randrange(256) for _ in range(rng.choice([1, 4, 64]))) + content[position:]


def _splice(rng: random.Random, content: bytes) -> bytes:
    start = rng.randrange(len(content))
    end = min(len(content), start + rng.choice([1, 16, 256, 4096]))
    return content[:start] + content[end:]


BYTE_DAMAGE = [_truncate, _flip, _insert, _splice]


# --- Damage of a CSV -----------------------------------------------------------------------------------------


def _csv_cells(content: bytes) -> list[list[str]]:
    return [line.split(",") for line in content.decode("utf-8-sig", "surrogateescape").split("\r\n")]


def _csv_join(rows: list[list[str]]) -> bytes:
    return "\r\n".join(",".join(cells) for cells in rows).encode("utf-8", "surrogatepass")


def _csv_retype(rng: random.Random, content: bytes) -> bytes:
    rows = _csv_cells(content)
    for _ in range(rng.choice([1, 1, 2, 4])):
        line = rng.choice([0, 1, 1, 1, 1])
        if line < len(rows) and rows[line]:
            value = rng.choice(CELL_VALUES)
            rows[line][rng.randrange(len(rows[line]))] = f'"{value}"' if rng.random() < 0.3 else value
    return _csv_join(rows)


def _csv_rows(rng: random.Random, content: bytes) -> bytes:
    rows = _csv_cells(content)
    choice = rng.randrange(4)
    if choice == 0 and len(rows) > 1:
        rows.insert(rng.randrange(len(rows)), rows[1][:])
    elif choice == 1:
        rows.pop(rng.randrange(len(rows)))
    elif choice == 2:
        rows[rng.randrange(len(rows))].append(rng.choice(CELL_VALUES))
    else:
        row = rows[rng.randrange(len(rows))]
        if row:
            row.pop(rng.randrange(len(row)))
    return _csv_join(rows)


def _csv_encoding(rng: random.Random, content: bytes) -> bytes:
    text = content.decode("utf-8-sig", "surrogateescape")
    if rng.random() < 0.5:
        text = text.replace("ILLUSTRATIVE", rng.choice(["Café £5m", "naïve — “quoted”", "日本語", "Ünïcödé"]))
    return text.encode(rng.choice(ENCODINGS), errors="replace")


def _csv_separator(rng: random.Random, content: bytes) -> bytes:
    return content.replace(b",", rng.choice([b";", b"\t", b"|", b", ", b'","']))


CSV_DAMAGE = [*BYTE_DAMAGE, _csv_retype, _csv_retype, _csv_rows, _csv_encoding, _csv_separator]


# --- Damage of a workbook --------------------------------------------------------------------------------------


def _sheet_parts(parts: dict[str, bytes]) -> list[str]:
    return sorted(n for n in parts if n.startswith("xl/worksheets/") and n.endswith(".xml"))


def _xlsx_retype(rng: random.Random, parts: dict[str, bytes]) -> None:
    name = "xl/worksheets/sheet1.xml"
    if name not in parts:
        return
    sheet = parts[name]
    cells = list(re.finditer(rb'<c r="([A-Z]+)2"([^>]*)>(.*?)</c>', sheet))
    for match in rng.sample(cells, min(len(cells), rng.choice([1, 2, 3]))):
        kind = rng.choice(CELL_TYPES)
        value = rng.choice(CELL_VALUES).encode("utf-8", "surrogatepass")
        value = value.replace(b"&", b"&amp;").replace(b"<", b"&lt;")
        body = (b"<is><t>" + value + b"</t></is>") if kind == b"inlineStr" else (b"<v>" + value + b"</v>")
        cell = b'<c r="' + match[1] + b'2" t="' + kind + b'">' + body + b"</c>"
        sheet = sheet.replace(match[0], cell, 1)
    parts[name] = sheet


def _xlsx_sheet_state(rng: random.Random, parts: dict[str, bytes]) -> None:
    book = parts.get("xl/workbook.xml", b"")
    sheets = list(re.finditer(rb"<sheet [^>]*?/>", book))
    if not sheets:
        return
    target = rng.choice(sheets)
    change = rng.randrange(5)
    if change == 0:
        new = target[0].replace(b"<sheet ", b'<sheet state="' + rng.choice([b"hidden", b"veryHidden"]) + b'" ')
    elif change == 1:
        new = b""  # the sheet removed from the workbook (its part stays)
    elif change == 2:
        new = re.sub(rb'name="[^"]*"', b'name="' + rng.choice([b"Sheet1", b"return", b"Data", b"Guidance", b"",
                                                                 b"Return"]) + b'"', target[0])
    elif change == 3:
        new = target[0]
        book = book.replace(target[0], b"", 1)
        book = book.replace(b"<sheets>", b"<sheets>" + new, 1)  # moved first
        parts["xl/workbook.xml"] = book
        return
    else:
        new = target[0] + target[0]  # listed twice
    parts["xl/workbook.xml"] = book.replace(target[0], new, 1)


def _xlsx_remove(rng: random.Random, parts: dict[str, bytes]) -> None:
    parts.pop(rng.choice(sorted(parts)))


def _xlsx_cut_part(rng: random.Random, parts: dict[str, bytes]) -> None:
    name = rng.choice(sorted(parts))
    parts[name] = _truncate(rng, parts[name]) if parts[name] else parts[name]


def _xlsx_flip_part(rng: random.Random, parts: dict[str, bytes]) -> None:
    name = rng.choice(sorted(parts))
    if parts[name]:
        parts[name] = _flip(rng, parts[name])


def _xlsx_add(rng: random.Random, parts: dict[str, bytes]) -> None:
    name, data = rng.choice([
        ("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100),
        ("xl/printerSettings/printerSettings1.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100),
        ("xl/externalLinks/externalLink1.xml", b"<externalLink><ddeLink ddeService='cmd'/></externalLink>"),
        ("xl/embeddings/oleObject1.bin", b"data"),
        ("xl/sharedStrings.xml", b"<sst><si><t>x</t></si></sst>"),
        ("xl/worksheets/sheet9.xml", b"<worksheet><sheetData><row r='1'><c r='A1'><v>1</v></c></row></sheetData>"
                                     b"</worksheet>"),
        ("xl/connections.xml", b"<connections/>"),
    ])
    parts[name] = data


def _xlsx_sheet_xml(rng: random.Random, parts: dict[str, bytes]) -> None:
    name = rng.choice(_sheet_parts(parts) or sorted(parts))
    sheet = parts[name]
    edits = [
        (rb"</sheetData>", b'<row r="3"><c r="A3" t="s"><v>9999</v></c></row></sheetData>'),
        (rb'<row r="2"', b'<row r="1048576"'),
        (rb'r="A2"', b'r="XFD2"'),
        (rb'r="A2"', b'r="A"'),
        (rb"<sheetData>", b"<sheetData><row><c><f>SUM(1)</f></c></row>"),
        (rb"</worksheet>", b"<oleObjects><oleObject/></oleObjects></worksheet>"),
        (rb"<dimension [^>]*>", b'<dimension ref="A1:XFD1048576"/>'),
        (rb'<c r="B2"[^>]*>', b'<c r="B2" t="s">'),
    ]
    pattern, replacement = rng.choice(edits)
    parts[name] = re.sub(pattern, replacement, sheet, count=1)


XLSX_PART_DAMAGE = [_xlsx_retype, _xlsx_retype, _xlsx_retype, _xlsx_sheet_state, _xlsx_sheet_state, _xlsx_remove,
                    _xlsx_cut_part, _xlsx_flip_part, _xlsx_add, _xlsx_sheet_xml, _xlsx_sheet_xml]


def _xlsx_variant(rng: random.Random) -> bytes:
    content, parts = rng.choice(XLSX_BASES)
    if rng.random() < 0.2:
        return rng.choice(BYTE_DAMAGE)(rng, content)
    parts = dict(parts)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        if parts:
            rng.choice(XLSX_PART_DAMAGE)(rng, parts)
    return zip_parts(parts)


def _csv_variant(rng: random.Random) -> bytes:
    content = SAMPLE_CSV
    for _ in range(rng.choice([1, 1, 2, 3])):
        if not content:
            break
        content = rng.choice(CSV_DAMAGE)(rng, content)
    return content


def variants(seed: int, count: int):
    """(file name, bytes) for ``count`` damaged returns, about half workbooks; the same for the same seed."""
    rng = random.Random(seed)
    for i in range(count):
        name, content = (f"fuzz-{i}.xlsx", _xlsx_variant(rng)) if i % 2 == 0 else (f"fuzz-{i}.csv", _csv_variant(rng))
        if rng.random() < 0.05:  # sent under the other kind's name
            name = name.replace(".xlsx", ".tmp").replace(".csv", ".xlsx").replace(".tmp", ".csv")
        yield name, content


# --- What every file must get ----------------------------------------------------------------------------------


def problems_with(content: bytes, name: str) -> list[str]:
    """What is wrong with how the validator treated the file (empty when all is well)."""
    wrong = []
    try:
        read_return_file(content, name)
    except ReturnFileError as err:
        if not str(err).isprintable():
            wrong.append(f"read_return_file: unprintable message {str(err)!r}")
    except Exception as err:  # noqa: BLE001
        wrong.append(f"read_return_file raised {type(err).__name__}: {err}")
    try:
        report = validate_return(content, name, KNOWN, AS_OF, submitter="D10")
    except Exception as err:  # noqa: BLE001
        return [*wrong, f"validate_return raised {type(err).__name__}: {err}"]
    for problem in report.problems + report.warnings:
        line = problem.located()
        if problem.rule == UNCHECKED:
            wrong.append("validate_return fell back on its own-fault message (a bug was logged)")
        if not line.isprintable():
            wrong.append(f"unprintable message {line!r}")
        if any(word in line for word in PYTHON_WORDS):
            wrong.append(f"a Python error in the message {line!r}")
        if not problem.message.rstrip().endswith((".", ")")):
            wrong.append(f"a message that is not a sentence {line!r}")
    if report.status == "rejected" and not report.problems:
        wrong.append("rejected without saying why")
    if report.problems and report.returns is not None:
        wrong.append("figures kept from a rejected file")
    return wrong


def _save(content: bytes, name: str) -> Path:
    CORPUS.mkdir(parents=True, exist_ok=True)
    path = CORPUS / f"{hashlib.sha256(content).hexdigest()[:16]}{Path(name).suffix}"
    path.write_bytes(content)
    return path


def test_a_thousand_damaged_returns_are_each_rejected_cleanly():
    started = time.perf_counter()
    failures, statuses = [], {"xlsx": set(), "csv": set()}
    tried = 0
    for name, content in variants(SEED, COUNT):
        tried += 1
        wrong = problems_with(content, name)
        if wrong:
            failures.append(f"{_save(content, name).name}: {wrong[0]}")
        else:
            report = validate_return(content, name, KNOWN, AS_OF, submitter="D10") if tried <= 40 else None
            if report is not None:
                statuses[name.rsplit(".", 1)[-1]].add(report.status)
    seconds = time.perf_counter() - started
    print(f"\n{tried} damaged returns tried in {seconds:.1f} s (seed {SEED}); {len(failures)} failed")
    assert tried >= 1000
    assert not failures, f"{len(failures)} of {tried} files failed (saved to {CORPUS}): " + "; ".join(failures[:10])


def test_the_generator_makes_varied_files():
    """The damage is real: both kinds, many distinct files, some still valid, most rejected for many reasons."""
    seen, outcomes = set(), {}
    for name, content in variants(SEED + 1, 200):
        seen.add(hashlib.sha256(content).digest())
        report = validate_return(content, name, KNOWN, AS_OF, submitter="D10")
        first = report.problems[0].message[:30] if report.problems else report.status
        outcomes[first] = outcomes.get(first, 0) + 1
    assert len(seen) >= 180  # some damage repeats itself (a file cut to nothing, twice)
    assert len(outcomes) >= 20, outcomes
    assert list(variants(SEED + 1, 30)) == list(variants(SEED + 1, 30)), "the same seed must give the same files"


def _corpus() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*") if p.suffix in (".csv", ".xlsx")) if CORPUS.exists() else []


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_the_corpus_replays(path):
    assert problems_with(path.read_bytes(), path.name) == []


def test_the_corpus_is_there():
    assert _corpus(), "the corpus of files the fuzz test once failed on is kept in tests/corpus/returns"
