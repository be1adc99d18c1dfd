"""Validating a return against the contract: cells parsed, then the contract's rules.

The rules are compiled once from ``checks/return_contract.py``
(``checks/return_rules.py``) and applied here by the native evaluator
(``checks/return_rules.py``): pandas alone, so checking a return takes
milliseconds and never imports Great Expectations. Each failure turns back
into the contract's plain-English message for the exact row and column. Cells
that cannot be parsed at all (text in a number) are reported here, before the
rules, and the rules are not repeated for them.

The pipeline also validates with Great Expectations, translated from the same
rules (``checks/return_gx.py``); both engines find the same failures.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import logging
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from checks.return_contract import (
    CODE,
    COLUMN_BY_NAME,
    COLUMN_NAMES,
    COLUMNS,
    COUNT,
    KEY_COLUMNS,
    MAX_DATA_ROWS,
    MAX_NOTE_CHARACTERS,
    MESSAGES,
    NUMBER,
    NUMBER_DECIMAL_PLACES,
    QUARTER,
    VERSION_COLUMNS,
    WARNINGS,
    Quarter,
    column_letter,
    columns_of,
    normalise_quarter,
    version_flags,
)
from checks.return_files import ReturnFileError, read_return_file, shown
from checks.return_rules import SUBMITTED_BY, WARNING, Finding, Rule, contract_rules, evaluate, rule_frame

log = logging.getLogger(__name__)
Files = Sequence[tuple[bytes, str, str | None]]  # (content, file name, submitter) of each file
ACCEPTED, ACCEPTED_WITH_WARNINGS, REJECTED = "accepted", "accepted with warnings", "rejected"
# A whole number as Excel's number formats write it: thousands separators ("Comma Style"), a decimal part of
# zeros (410,000.00), and the accounting format's "-" for zero. Anything else keeps its clear message.
WHOLE_NUMBER_AS_FORMATTED = re.compile(r"^([-+]?)([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.0+)?$")
ACCOUNTING_ZERO = "-"
# A whole number too long for Excel's General format, as a workbook's cell reads (checks/return_files.py): 1E+20
EXCEL_HUGE_WHOLE_NUMBER = re.compile(r"^[-+]?[0-9](?:\.[0-9]+)?E\+[0-9]+$")
# A number with decimals (FTE), as typed or as Excel's number formats write it: 412.5, 1,204.25, .5
NUMBER_AS_FORMATTED = re.compile(r"^([-+]?)((?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)$")
# Short cells (figures, codes, quarters, choices) parsed once a process, however many returns repeat them: how many
# and how long (a longer cell, a note, is nearly always new, and would only fill the memory).
CELLS_REMEMBERED, REMEMBERED_CELL_CHARACTERS = 1 << 16, 40
# A return is one row: a file of many is refused whatever its rows hold, so only the first few are checked, for the
# sender to see what else to put right (a 10,000-row file made 80,000 problems, in the terminal and on a page)
ROWS_CHECKED = 5
UNCHECKED = "unchecked"  # the rule of the one problem said when checking itself failed (a bug, logged)


@dataclass(frozen=True)
class Normalisation:
    """A cell the validator understood as something other than its exact text: kept for the audit."""

    row: int  # spreadsheet row number
    column: str
    as_read: str  # the cell exactly as read from the file
    as_understood: str  # the value checked and kept

    def record(self) -> dict[str, object]:
        """JSON-ready, for the audit trail: row, column, column_letter, as_read, as_understood."""
        return {"row": self.row, "column": self.column,
                "column_letter": column_letter(COLUMN_NAMES.index(self.column)),
                "as_read": self.as_read, "as_understood": self.as_understood}

    def describe(self) -> str:
        return (f"Row {self.row}, column {column_letter(COLUMN_NAMES.index(self.column))} ({self.column}): "
                f"'{shown(self.as_read)}' read as '{shown(self.as_understood)}'")


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or, as a warning, worth checking) with a return, where it is and how to fix it."""

    rule: str
    message: str
    row: int | None = None  # spreadsheet row number (the header is row 1)
    column: str | None = None
    value: str | None = None  # the cell as sent, in full (messages show it shortened and printable)
    file: str | None = None  # the file's name, as sent
    sheet: str | None = None  # the workbook's sheet read (None for CSV, or when no sheet was read)

    @property
    def where(self) -> str:
        """Where in the file: 'Row 2, column C (...)', with the sheet first for a workbook."""
        if self.row is None:  # a message from reading the file names the sheet itself when one was read
            return "The file" if self.sheet is None or self.rule == "file" else f"The '{shown(self.sheet)}' sheet"
        place = f"Row {self.row}"
        if self.column is not None:
            place += f", column {column_letter(COLUMN_NAMES.index(self.column))} ({self.column})"
        return place if self.sheet is None else f"Sheet '{shown(self.sheet)}', {place[0].lower()}{place[1:]}"

    def describe(self) -> str:
        """Where in the file, what is wrong and how to fix it: 'Row 2, column L (pay_services_live): ...'."""
        return f"{self.where}: {self.message}"

    def located(self) -> str:
        """The same, naming the file first: for any line read apart from the file's own heading (logs, summaries)."""
        if not self.file:
            return self.describe()
        return f"{shown(self.file)}: {self.message if self.row is None else self.describe()}"


@dataclass(frozen=True, eq=False)
class BatchRows:
    """Where a file's rows lie in a frame of the batch it was checked with (its typed rows, its rule frame), so that
    many files' rows can be taken from it in one step, and a file's own frame is made only when asked for."""

    frame: pd.DataFrame
    start: int
    stop: int
    index: list[int] | None = None  # the rows' labels in a frame of the file's own (None: 0, 1, ...)

    def own(self) -> pd.DataFrame:
        """The file's rows as a frame of its own."""
        rows = self.frame.iloc[self.start:self.stop]
        if self.index is None:
            return rows.reset_index(drop=True)
        rows.index = self.index
        return rows


@dataclass
class ValidationReport:
    file_name: str
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    raw_rows: dict[int, dict[str, str]] = field(default_factory=dict)  # as sent, by row number
    findings: list[Finding] = field(default_factory=list)  # every (rule, row, column) that failed, before messages
    sheet: str | None = None  # the workbook's sheet that was read (None for CSV)
    # Every cell understood as something other than its exact text (410,000.00 -> 410000, 2025/26 Q3 ->
    # 2025-26 Q3, - -> 0, d10 -> D10, stray spaces), in row and column order: for the audit trail.
    normalisations: list[Normalisation] = field(default_factory=list)
    version: int | None = None  # the contract version the file was read with (from its header), when it could be read
    batch_rows: BatchRows | None = None  # where ``returns`` lies in the frame of the batch it was checked with
    checked_rows: BatchRows | None = None  # where ``checked`` lies in the batch's rule frame, by row number
    # A file's own frames are made from the batch's when first asked for: made for every file of a batch, they
    # took more than half the time checking it did, and ingestion takes many files' rows at once (``batch_rows``).
    _returns: pd.DataFrame | None = field(default=None, repr=False)
    _checked: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def returns(self) -> pd.DataFrame | None:
        """The typed rows, only when there are no problems."""
        if self._returns is None and self.batch_rows is not None:
            self._returns = self.batch_rows.own()
        return self._returns

    @returns.setter
    def returns(self, frame: pd.DataFrame | None) -> None:
        self._returns = frame

    @property
    def checked(self) -> pd.DataFrame | None:
        """The rule frame the rules were applied to, by row number, when the file could be read."""
        if self._checked is None and self.checked_rows is not None:
            self._checked = self.checked_rows.own()
        return self._checked

    @property
    def status(self) -> str:
        if self.problems:
            return REJECTED
        return ACCEPTED_WITH_WARNINGS if self.warnings else ACCEPTED

    def as_recorded(self) -> ValidationReport:
        """The report with only what a run records from it: of the rows as sent, the first (the report's key) and
        those its problems and warnings name; no rule frame. What the checking process sends back
        (``checks/return_checking_process.py``): a batch's rule frame and every cell of every row, as text, were
        most of what the run unpacked, holding Python's lock, while its other steps waited for it."""
        named = {problem.row for problem in [*self.problems, *self.warnings]}
        first = next(iter(self.raw_rows), None)
        kept = {row: cells for row, cells in self.raw_rows.items() if row == first or row in named}
        return replace(self, raw_rows=kept, checked_rows=None, _checked=None)

    @property
    def key(self) -> tuple[str | None, str | None]:
        """(organisation code, quarter) of the first row, as understood (normalised), when readable."""
        first = next(iter(self.raw_rows.values()), {})
        code = (first.get("organisation_code") or "").strip().upper() or None
        return code, _quarter_label(first.get("reporting_quarter") or "")


@functools.lru_cache(maxsize=4096)  # forty quarters, spelt a few ways, in 60,000 returns
def _quarter_label(text: str) -> str | None:
    """The quarter ``text`` names, as the contract writes it, or None."""
    quarter = Quarter.parse(normalise_quarter(text))
    return quarter.label if quarter else None


def validate_return(
    content: bytes,
    file_name: str,
    known_organisations: Collection[str],
    as_of: dt.date,
    submitter: str | None = None,
) -> ValidationReport:
    """Check a return file against the contract. ``submitter``: the organisation code that sent it.

    Never raises for anything in the file: what cannot be read is the report's problem, with a message.
    """
    return validate_returns([(content, file_name, submitter)], known_organisations, as_of)[0]


def validate_returns(files: Files, known_organisations: Collection[str],
                     as_of: dt.date) -> list[ValidationReport]:
    """Check many return files, (content, file name, submitter) each: the same reports ``validate_return`` gives.

    Each file is read on its own; the rules then run once over the rows of all of them (rows of different files
    are never duplicates of each other), so a batch of returns costs the rules' pandas work once rather than once
    a file: what lets ingestion keep up with every body returning every quarter. Never raises for anything in a
    file; a fault in the tracker while checking the batch is retried file by file, so it stays one file's.
    """
    reports = [ValidationReport(file_name) for _, file_name, _ in files]
    read: list[_Read | None] = []
    for report, (content, file_name, _) in zip(reports, files, strict=True):
        try:
            read.append(_read(report, content, file_name))
        except Exception:  # noqa: BLE001  a fault in the tracker: this file's plain rejection
            _checking_failed(report, file_name)
            read.append(None)
    readable = [i for i, r in enumerate(read) if r is not None]
    if not readable:
        return reports
    try:
        _judge_together([reports[i] for i in readable], [read[i] for i in readable],
                        [files[i][2] for i in readable], known_organisations, as_of)
    except Exception:  # noqa: BLE001  find the file it was, by checking each on its own
        if len(readable) == 1:
            _checking_failed(reports[readable[0]], files[readable[0]][1])
            return reports
        for i in readable:
            reports[i] = validate_return(*files[i][:2], known_organisations, as_of, submitter=files[i][2])
    return reports


class ReturnJudge:
    """``validate_return`` for one run, with files checked ahead in batches (``check_later``): in a process of its
    own while the run goes on (with ``elsewhere``), or here and now.

    A report is a pure function of the file's bytes, its name, its sender, the known organisations and the
    reporting date, so a report made ahead in a batch, here or in the other process, is the one the file would get
    alone, and is handed out once. Use it as a context manager: leaving it ends the other process.
    """

    def __init__(self, known_organisations: Collection[str], as_of: dt.date, elsewhere: bool = False) -> None:
        self.known, self.as_of = frozenset(known_organisations), as_of
        self._ahead: dict[tuple[str, str, str | None], ValidationReport] = {}
        self._later: list[Files] = []  # batches sent to the other process, oldest first, not yet answered
        self._elsewhere = None
        if elsewhere:
            from checks.return_checking_process import CheckingProcess

            try:
                self._elsewhere = CheckingProcess(self.known, as_of)
            except OSError as failed:  # the run checks every file itself, as it always could
                log.warning(f"The process to check returns in could not be started: {failed}")

    def __enter__(self) -> ReturnJudge:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._elsewhere is not None:
            self._elsewhere.close()
            self._elsewhere = None

    def _check_here(self, files: Files) -> None:
        self._keep(files, validate_returns(files, self.known, self.as_of))

    def check_later(self, files: Files) -> None:
        """Send the batch to the other process and return at once; without one, check it now."""
        if self._elsewhere is not None and self._elsewhere.send(files):
            self._later.append(files)
        else:
            self._check_here(files)

    def __call__(self, content: bytes, file_name: str, submitter: str | None) -> ValidationReport:
        key = (hashlib.sha256(content).hexdigest(), file_name, submitter)
        while key not in self._ahead and self._later:
            files = self._later.pop(0)
            reports = self._elsewhere.answer()
            if reports is None:  # it failed on them, or has gone: checked here
                self._check_here(files)
            else:
                self._keep(files, reports)
        report = self._ahead.pop(key, None)
        return report or validate_return(content, file_name, self.known, self.as_of, submitter=submitter)

    def _keep(self, files: Files, reports: list[ValidationReport]) -> None:
        for (content, name, sender), report in zip(files, reports, strict=True):
            self._ahead[(hashlib.sha256(content).hexdigest(), name, sender)] = report


def _checking_failed(report: ValidationReport, file_name: str) -> None:
    """A bug, not the sender's fault: still one file's plain rejection, never a failed run."""
    log.exception("checking return file %r failed", file_name)
    report.problems = [Problem(UNCHECKED, "The file could not be checked because of a fault in the tracker, "
                               "not in the file. Nothing in it was taken: ask CDDO to look at it, quoting the "
                               "file's name.", file=file_name, sheet=report.sheet)]
    report.returns = report.batch_rows = None
    report.normalisations = []


# The types of a return's rows as kept: whole numbers may be missing (Int64), numbers with decimals are floats.
RETURN_DTYPES = {**{c.name: "Int64" for c in COLUMNS if c.kind == COUNT},
                 **{c.name: "float64" for c in COLUMNS if c.kind == NUMBER}}


@dataclass
class _Read:
    """A file's cells as parsed, before the rules: its typed rows and what was wrong with single cells."""

    records: list[dict[str, object]]  # typed rows, one dict each
    rows: list[int]  # their spreadsheet row numbers
    problems: list[Problem]
    unparsed: set[tuple[int, str]]


def _read(report: ValidationReport, content: bytes, file_name: str) -> _Read | None:
    """Read the file and parse every cell; None when the file itself cannot be read (the report says why)."""
    try:
        table = read_return_file(content, file_name)
    except ReturnFileError as err:
        report.sheet = err.sheet
        report.problems.append(Problem("file", str(err), file=file_name, sheet=err.sheet))
        return None
    report.sheet, report.version = table.sheet, table.version
    report.warnings.extend(Problem("file", notice, file=file_name) for notice in table.notices)
    positions = {name: i for i, name in enumerate(table.header)}
    records, unparsed, problems = [], set(), []
    for row_number, cells in table.rows[:ROWS_CHECKED]:
        raw = {name: (cells[i].strip() if i < len(cells) else "") for name, i in positions.items()}
        report.raw_rows[row_number] = raw
        if any(c.strip() for c in cells[len(positions):]):
            problems.append(Problem("extra_values", MESSAGES["extra_values"].format(last_column=table.header[-1]),
                                    row_number))
        # A return made with an earlier template has none of the later sections' columns: not reported (None).
        record = dict.fromkeys(COLUMN_NAMES) | version_flags(table.version)
        for column in columns_of(table.version):
            understood, problem = _cell(column.name, raw[column.name], row_number)
            if problem:
                record[column.name] = None
                problems.append(problem)
                unparsed.add((row_number, column.name))
            else:
                record[column.name], as_text = understood
                as_read = cells[positions[column.name]] if positions[column.name] < len(cells) else ""
                if as_read != as_text:
                    report.normalisations.append(Normalisation(row_number, column.name, as_read, as_text))
        records.append(record)
    if len(table.rows) > MAX_DATA_ROWS:
        cut = len(table.rows) - len(records)
        problems.append(Problem("one_row", MESSAGES["one_row"].format(rows=len(table.rows)) + (
            " " + MESSAGES["rows_not_checked"].format(checked=len(records), others=cut) if cut else "")))
    return _Read(records, [n for n, _ in table.rows[:ROWS_CHECKED]], problems, unparsed)


def _judge_together(reports: list[ValidationReport], read: list[_Read], submitters: list[str | None],
                    known_organisations: Collection[str], as_of: dt.date) -> None:
    """The rules over every file's rows at once, then each file's findings turned into its messages."""
    rules = contract_rules(known_organisations, as_of)
    sizes = [len(r.records) for r in read]
    typed = pd.DataFrame([record for r in read for record in r.records], columns=[*COLUMN_NAMES, *VERSION_COLUMNS])
    owner = [i for i, size in enumerate(sizes) for _ in range(size)]  # which file each stacked row came from
    checked = rule_frame(typed, submitted_by=[submitters[i] for i in owner], return_file=owner)
    findings: list[list[Finding]] = [[] for _ in read]
    starts = [0, *itertools.accumulate(sizes)][:-1]
    for found in evaluate(rules, checked):
        file = owner[found.row]
        findings[file].append(found._replace(row=read[file].rows[found.row - starts[file]]))
    checked = checked.copy()  # one block per type, so that a file's slice is cheap
    for i, (report, parsed) in enumerate(zip(reports, read, strict=True)):
        report.checked_rows = BatchRows(checked, starts[i], starts[i] + sizes[i], parsed.rows)
        _judge(report, parsed, findings[i], rules)
    # The rows kept, typed once for the files that passed (a rejected file's cells may not fit the types).
    passed = [i for i, report in enumerate(reports) if not report.problems]
    if passed:
        kept = typed.iloc[[row for i in passed for row in range(starts[i], starts[i] + sizes[i])]]
        kept = kept.astype(RETURN_DTYPES).reset_index(drop=True).copy()
        at = 0
        for i in passed:
            reports[i].batch_rows = BatchRows(kept, at, at + sizes[i])
            at += sizes[i]


def _judge(report: ValidationReport, read: _Read, findings: list[Finding], rules: Sequence[Rule]) -> None:
    report.findings = findings
    found, warnings = problems_for(findings, rules, report.checked if findings else None, report.raw_rows,
                                   read.unparsed)  # a file's rule frame is made only for its messages
    problems = read.problems + found
    placed = {"file": report.file_name, "sheet": report.sheet}
    report.problems += [replace(p, **placed) for p in problems]
    report.warnings += [replace(w, **placed) for w in warnings]
    report.problems.sort(key=lambda p: (p.row or 0, COLUMN_NAMES.index(p.column) if p.column else -1))
    if report.problems:
        report.normalisations = []  # nothing is kept from a rejected file; its cells are in raw_rows as sent


def problems_for(findings: Iterable[Finding], rules: Iterable[Rule], checked: pd.DataFrame | None,
                 raw_rows: dict[int, dict[str, str]], unparsed: Collection[tuple[int, str]] = ()
                 ) -> tuple[list[Problem], list[Problem]]:
    """The problems and the warnings the findings (of either engine) come to, each with its message.

    A rule that involves a cell that could not be read says nothing (the cell's own problem does), and
    neither does one whose failure follows from another already reported.
    """
    findings = list(findings)
    if not findings:  # most files: no rule to look up
        return [], []
    by_key = {rule.key: rule for rule in rules}
    found_on: dict[int, set[str]] = {}
    for found in findings:
        found_on.setdefault(found.row, set()).add(found.rule)
    problems, warnings = [], []
    for found in findings:
        rule = by_key[(found.rule, found.column)]
        if _involves_unparsed(rule, found.row, unparsed) or \
                _follows_from_another(rule, checked.loc[found.row], found_on[found.row]):
            continue
        problem = _problem_for(rule, found.row, raw_rows[found.row], checked)
        (warnings if rule.severity == WARNING else problems).append(problem)
    return problems, warnings


def _cell(name: str, text: str, row: int) -> tuple[tuple[object, str] | None, Problem | None]:
    """A cell's value and that value written back as text, or the problem with it at its row; a short cell as
    understood before, when it was."""
    if len(text) <= REMEMBERED_CELL_CHARACTERS and (understood := _understood(name, text)) is not None:
        return understood, None
    value, problem = _parse_cell(name, text, row)
    return (None, problem) if problem else ((value, _as_text(value)), None)


@functools.lru_cache(maxsize=CELLS_REMEMBERED)
def _understood(name: str, text: str) -> tuple[object, str] | None:
    """A short cell's value and that value written back as text (None when it cannot be parsed): the same figures,
    codes and quarters recur across thousands of returns, so each is parsed once a process."""
    value, problem = _parse_cell(name, text, 0)
    return None if problem else (value, _as_text(value))


def _parse_cell(name: str, text: str, row: int) -> tuple[object, Problem | None]:
    """A cell's value as the contract understands it (``text`` is already stripped), or the problem with it."""
    column = COLUMN_BY_NAME[name]
    if text == "":
        return None, None
    if column.kind == COUNT:
        if text == ACCOUNTING_ZERO:
            return 0, None
        match = WHOLE_NUMBER_AS_FORMATTED.match(text)
        if match is None and EXCEL_HUGE_WHOLE_NUMBER.match(text) and 1e15 <= abs(float(text)) < float("inf"):
            return float(text), None  # a whole number Excel shows as 1E+20: beyond every maximum ("too large")
        if match is None:
            message = MESSAGES["whole_number"].format(value=shown(text), example=column.example)
            return None, Problem("whole_number", message, row, name, text)
        digits = match[1] + match[2].replace(",", "")
        if len(match[2].replace(",", "").lstrip("0")) > 15:  # beyond every maximum: a float ("too large" says so)
            return float(digits), None
        return int(digits), None
    if column.kind == NUMBER:
        if text == ACCOUNTING_ZERO:
            return 0.0, None
        match = NUMBER_AS_FORMATTED.match(text)
        if match is None:
            message = MESSAGES["not_a_number"].format(value=shown(text), example=column.example)
            return None, Problem("not_a_number", message, row, name, text)
        digits = Decimal(match[1] + match[2].replace(",", ""))
        # Kept to NUMBER_DECIMAL_PLACES, rounded half up (412.567 -> 412.57): the rounding is recorded as read.
        return float(digits.quantize(Decimal(1).scaleb(-NUMBER_DECIMAL_PLACES), ROUND_HALF_UP)), None
    if column.kind == CODE:
        return text.upper(), None
    if column.choices:  # picked from a list: any case and spacing of a listed value is that value
        squeezed = " ".join(text.split()).lower()
        return next((choice for choice in column.choices if choice.lower() == squeezed), text), None
    if column.kind == QUARTER:
        return normalise_quarter(text), None
    return text, None


def _as_text(value: object) -> str:
    """A parsed value written back as text: 412.5 and 100 for numbers with decimals (never 100.0)."""
    if value is None:
        return ""
    if isinstance(value, float) and not pd.isna(value):
        return f"{value:.{NUMBER_DECIMAL_PLACES}f}".rstrip("0").rstrip(".")
    return str(value)


def _involves_unparsed(rule: Rule, row: int, unparsed: Collection[tuple[int, str]]) -> bool:
    return any((row, column) in unparsed for column in rule.involves)


def _follows_from_another(rule: Rule, row: pd.Series, found_here: Collection[str]) -> bool:
    """Said once: no 'not a quarter you can send' after 'not a quarter', no 'planned too many' after 'live too many',
    no 'ask ZZ99 to send it' after 'ZZ99 is not a code the tracker knows' (``found_here``: the rules the row broke)."""
    if rule.rule == "submitter_matches":
        return "organisation_known" in found_here
    if rule.rule == "quarter_open":
        return Quarter.parse(row["reporting_quarter"] or "") is None
    if rule.rule != "at_most" or not rule.meta["minus"]:
        return False
    limit, minus = row[rule.meta["limit"]], row[rule.meta["minus"]]
    return not pd.isna(limit) and not pd.isna(minus) and minus > limit


def _problem_for(rule: Rule, row: int, raw: dict[str, str], checked: pd.DataFrame) -> Problem:
    meta, column = rule.meta, rule.column
    spec = COLUMN_BY_NAME[column]
    value = raw.get(column, "")
    fields = {"label": spec.label, "value": shown(value), "help": spec.help, "example": spec.example,
              "maximum": spec.maximum or MAX_NOTE_CHARACTERS}
    if rule.rule == "at_most":
        limit_value = checked.at[row, meta["limit"]]
        limit_text = COLUMN_BY_NAME[meta["limit"]].label
        if meta["minus"]:
            limit_value -= checked.at[row, meta["minus"]]
            limit_text += f" minus {_short_label(meta['minus'])}"
        limit_value = f"{int(limit_value):,}"
        fields |= {"limit_text": limit_text, "limit_value": limit_value, "fix": meta["fix"]}
    elif rule.rule == "quarter_open":
        fields |= {"first_quarter": meta["first_quarter"], "latest_quarter": meta["latest_quarter"]}
    elif rule.rule == "paired":
        other = meta["other"] if raw.get(column) else column
        column = column if raw.get(column) else meta["other"]
        fields |= {"label": COLUMN_BY_NAME[column].label, "other_label": COLUMN_BY_NAME[other].label}
        value = raw.get(column, "")
        fields["value"] = shown(value)
    elif rule.rule == "note_too_long":
        fields["length"] = len(value)
    elif rule.rule == "no_formula":
        fields["first"] = value[:1].replace("\t", "tab").replace("\r", "carriage return")
    elif rule.rule == "one_return_per_row":
        key = tuple(checked.loc[row, KEY_COLUMNS])
        fields["other_row"] = next(n for n in checked.index if tuple(checked.loc[n, KEY_COLUMNS]) == key and n != row)
    elif rule.rule == "submitter_matches":
        fields["submitter"] = checked.at[row, SUBMITTED_BY]
    elif rule.rule == "transactions_missing":
        fields["live"] = shown(raw.get(meta["live"], ""))
    elif rule.rule == "choice_known":
        choices = spec.choices
        fields["choices"] = ", ".join(choices[:-1]) + " or " + choices[-1]
    elif rule.rule == "choice_alone":
        others = [c for c in meta["columns"] if c != column and raw.get(c) and checked.at[row, c] != meta["alone"]]
        fields |= {"others": " and ".join(_named(c) for c in others), "name": "names" if len(others) == 1 else "name",
                   "value": shown(checked.at[row, column])}
    elif rule.rule == "choice_repeated":
        pick = checked.at[row, column]
        fields |= {"other_label": _named(next(c for c in meta["earlier"] if checked.at[row, c] == pick)),
                   "value": shown(pick)}
    elif rule.rule == "choice_in_order":
        fields["other_label"] = _named(meta["other"])
    elif rule.rule == "choice_other_unexplained":
        fields["note_column"] = f"column {column_letter(COLUMN_NAMES.index(meta['note']))}, {meta['note']}"
    elif rule.rule == "verify_after_closure":
        fields["quarter"] = shown(checked.at[row, "reporting_quarter"] or raw.get("reporting_quarter", ""))
    template = WARNINGS[rule.rule] if rule.severity == WARNING else MESSAGES[rule.rule]
    return Problem(rule.rule, template.format(**fields), row, column, value)


def _named(column: str) -> str:
    """A column as a message names another one: 'column AI (main_barrier_2)'."""
    return f"column {column_letter(COLUMN_NAMES.index(column))} ({column})"


def _short_label(column: str) -> str:
    """'GOV.UK Pay: services live' -> 'services live', for the second half of a comparison."""
    return COLUMN_BY_NAME[column].label.split(": ", 1)[-1]


def typed_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, dict[str, str]]]:
    """Typed rows from the warehouse as a file's would be: numbered from row 2, with their values as text."""
    framed = frame[[*COLUMN_NAMES, *VERSION_COLUMNS]].copy()
    framed.index = range(2, len(framed) + 2)
    raw = {n: {c: "" if pd.isna(v) else str(v) for c, v in framed.loc[n].items()} for n in framed.index}
    return framed, raw
