"""Validating a return against the contract: cells parsed, then a Great Expectations suite.

The suite is generated from ``checks/return_contract.py``: one expectation per
rule, each carrying its rule name in ``meta`` so a failure turns back into the
contract's plain-English message for the exact row and column. Cells that
cannot be parsed at all (text in a number) are reported here, before the suite,
and the suite's rules are not repeated for them.

Great Expectations is imported only when a return is validated (it takes
seconds), and with its usage analytics and progress bars turned off.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cache

import pandas as pd

from checks.return_contract import (
    CODE,
    COLUMN_BY_NAME,
    COLUMN_NAMES,
    COLUMNS,
    COUNT,
    CROSS_FIELD_RULES,
    FIRST_QUARTER,
    FORMULA_PREFIXES,
    KEY_COLUMNS,
    MAX_DATA_ROWS,
    MAX_NOTE_CHARACTERS,
    MESSAGES,
    PAIRED_OPTIONAL,
    PLATFORMS,
    QUARTER,
    QUARTER_PATTERN,
    TEXT,
    VERIFY_LAST_QUARTER,
    WARNINGS,
    Quarter,
    column_letter,
    open_quarters,
)
from checks.return_files import ReturnFileError, read_return_file

ACCEPTED, ACCEPTED_WITH_WARNINGS, REJECTED = "accepted", "accepted with warnings", "rejected"
THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or, as a warning, worth checking) with a return, where it is and how to fix it."""

    rule: str
    message: str
    row: int | None = None  # spreadsheet row number (the header is row 1)
    column: str | None = None
    value: str | None = None

    @property
    def where(self) -> str:
        if self.row is None:
            return "The file"
        if self.column is None:
            return f"Row {self.row}"
        return f"Row {self.row}, column {column_letter(COLUMN_NAMES.index(self.column))} ({self.column})"

    def describe(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class ValidationReport:
    file_name: str
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    returns: pd.DataFrame | None = None  # typed rows, only when there are no problems
    raw_rows: dict[int, dict[str, str]] = field(default_factory=dict)  # as sent, by row number

    @property
    def status(self) -> str:
        if self.problems:
            return REJECTED
        return ACCEPTED_WITH_WARNINGS if self.warnings else ACCEPTED

    @property
    def key(self) -> tuple[str | None, str | None]:
        """(organisation code, quarter) of the first row, when readable: the return it is for."""
        first = next(iter(self.raw_rows.values()), {})
        code = (first.get("organisation_code") or "").strip().upper() or None
        quarter = Quarter.parse(first.get("reporting_quarter") or "")
        return code, quarter.label if quarter else None


def validate_return(
    content: bytes,
    file_name: str,
    known_organisations: Collection[str],
    as_of: dt.date,
    submitter: str | None = None,
) -> ValidationReport:
    """Check a return file against the contract. ``submitter``: the organisation code that sent it."""
    report = ValidationReport(file_name)
    try:
        table = read_return_file(content, file_name)
    except ReturnFileError as err:
        report.problems.append(Problem("file", str(err)))
        return report
    report.warnings.extend(Problem("file", notice) for notice in table.notices)
    positions = {name: i for i, name in enumerate(table.header)}
    records, unparsed = [], set()
    for row_number, cells in table.rows:
        raw = {name: (cells[i].strip() if i < len(cells) else "") for name, i in positions.items()}
        report.raw_rows[row_number] = raw
        if any(c.strip() for c in cells[len(positions):]):
            report.problems.append(Problem("extra_values", MESSAGES["extra_values"], row_number))
        record = {}
        for column in COLUMNS:
            value, problem = _parse_cell(column.name, raw[column.name], row_number)
            record[column.name] = value
            if problem:
                report.problems.append(problem)
                unparsed.add((row_number, column.name))
        records.append(record)
    if len(records) > MAX_DATA_ROWS:
        report.problems.append(Problem("one_row", MESSAGES["one_row"].format(rows=len(records))))
    frame = pd.DataFrame(records, index=[n for n, _ in table.rows], columns=COLUMN_NAMES)
    for finding in _run_suite(_with_derived_columns(frame), known_organisations, as_of, submitter):
        meta, row_number = finding
        if _involves_unparsed(meta, row_number, unparsed) or _follows_from_another(meta, frame.loc[row_number]):
            continue
        problem = _problem_for(meta, row_number, report.raw_rows[row_number], frame, submitter)
        (report.warnings if meta["severity"] == "warning" else report.problems).append(problem)
    report.problems.sort(key=lambda p: (p.row or 0, COLUMN_NAMES.index(p.column) if p.column else -1))
    if not report.problems:
        counts = [c.name for c in COLUMNS if c.kind == COUNT]
        report.returns = frame.reset_index(drop=True).astype({c: "Int64" for c in counts})
    return report


def _parse_cell(name: str, text: str, row: int) -> tuple[object, Problem | None]:
    column = COLUMN_BY_NAME[name]
    if text == "":
        return None, None
    if column.kind == COUNT:
        digits = text.replace(",", "") if THOUSANDS.match(text.lstrip("-")) else text
        try:
            number = float(digits)
        except ValueError:
            number = None
        if number is None or not number.is_integer() or "e" in digits.lower():
            message = MESSAGES["whole_number"].format(value=text, example=column.example)
            return None, Problem("whole_number", message, row, name, text)
        return int(number), None
    if column.kind == CODE:
        return text.upper(), None
    if column.kind == QUARTER:
        return re.sub(r"\s+", " ", text), None
    return text, None


def _with_derived_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns the suite compares with: the headroom for 'at most' rules and the pair/soft indicators."""
    derived = frame.copy()
    for column in COLUMNS:
        if column.kind == COUNT:
            derived[column.name] = pd.to_numeric(frame[column.name], errors="coerce").astype("float64")
    for rule in CROSS_FIELD_RULES:
        if rule.minus:
            derived[rule.headroom] = derived[rule.limit] - derived[rule.minus]
    for first, second in PAIRED_OPTIONAL:
        derived[f"{first}__paired"] = frame[first].isna() == frame[second].isna()
    for p in PLATFORMS:
        live = derived[f"{p.key}_services_live"]
        derived[f"{p.key}_transactions__given"] = ~(frame[f"{p.key}_transactions"].isna() & (live > 0))
    verify_closed = Quarter.parse(VERIFY_LAST_QUARTER)
    after_verify = frame["reporting_quarter"].map(lambda q: (Quarter.parse(q or "") or verify_closed) > verify_closed)
    derived["verify_services_in_scope__in_period"] = ~(after_verify & frame["verify_services_in_scope"].notna())
    return derived


def _involves_unparsed(meta: dict, row: int, unparsed: set) -> bool:
    return any((row, column) in unparsed for column in meta.get("columns", [meta.get("column")]))


def _follows_from_another(meta: dict, row: pd.Series) -> bool:
    """Said once: no 'not a quarter you can send' after 'not a quarter', no 'planned too many' after 'live too many'."""
    if meta["rule"] == "quarter_open":
        return not QUARTER_PATTERN.match(row["reporting_quarter"] or "")
    if meta["rule"] != "at_most" or not meta.get("minus"):
        return False
    limit, minus = row[meta["limit"]], row[meta["minus"]]
    return limit is not None and minus is not None and minus > limit


def _problem_for(meta: dict, row: int, raw: dict[str, str], frame: pd.DataFrame, submitter: str | None) -> Problem:
    rule, column = meta["rule"], meta["column"]
    spec = COLUMN_BY_NAME[column]
    value = raw.get(column, "")
    fields = {"label": spec.label, "value": value, "help": spec.help, "maximum": spec.maximum or MAX_NOTE_CHARACTERS}
    if rule == "at_most":
        limit_value = frame.at[row, meta["limit"]]
        limit_text = COLUMN_BY_NAME[meta["limit"]].label
        if meta.get("minus"):
            limit_value -= frame.at[row, meta["minus"]]
            limit_text += f" minus {_short_label(meta['minus'])}"
        limit_value = f"{int(limit_value):,}"
        fields |= {"limit_text": limit_text, "limit_value": limit_value, "fix": meta["fix"]}
    elif rule == "quarter_open":
        fields |= {"first_quarter": FIRST_QUARTER, "latest_quarter": meta["latest_quarter"]}
    elif rule == "paired":
        other = meta["other"] if raw.get(column) else column
        column = column if raw.get(column) else meta["other"]
        fields |= {"label": COLUMN_BY_NAME[column].label, "other_label": COLUMN_BY_NAME[other].label}
        value = raw.get(column, "")
    elif rule == "note_too_long":
        fields["length"] = len(value)
    elif rule == "no_formula":
        fields["first"] = value[:1].replace("\t", "tab").replace("\r", "carriage return")
    elif rule == "one_return_per_row":
        key = tuple(frame.loc[row, KEY_COLUMNS])
        fields["other_row"] = next(n for n in frame.index if tuple(frame.loc[n, KEY_COLUMNS]) == key and n != row)
    elif rule == "submitter_matches":
        fields["submitter"] = submitter
    elif rule == "transactions_missing":
        fields["live"] = raw.get(meta["live"], "")
    elif rule == "verify_after_closure":
        fields["quarter"] = raw.get("reporting_quarter", "")
    template = WARNINGS[rule] if meta["severity"] == "warning" else MESSAGES[rule]
    return Problem(rule, template.format(**fields), row, column, value)


def _short_label(column: str) -> str:
    """'GOV.UK Pay: services live' -> 'services live', for the second half of a comparison."""
    return COLUMN_BY_NAME[column].label.split(": ", 1)[-1]


# --- The Great Expectations suite -----------------------------------------------------


def contract_expectations(known_organisations: Collection[str], as_of: dt.date, submitter: str | None = None):
    """The suite's expectations, generated from the contract (one per rule and column)."""
    import great_expectations.expectations as gxe

    def meta(rule: str, column: str, severity: str = "error", **extra) -> dict:
        return {"rule": rule, "column": column, "severity": severity, **extra}

    quarters = open_quarters(as_of)
    expectations = []
    for c in COLUMNS:
        if c.required:
            rule = "required" if c.kind == COUNT else "required_text"
            expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=c.name, meta=meta(rule, c.name)))
        if c.kind == COUNT:
            expectations += [
                gxe.ExpectColumnValuesToBeBetween(column=c.name, min_value=0, meta=meta("not_negative", c.name)),
                gxe.ExpectColumnValuesToBeBetween(column=c.name, max_value=c.maximum, meta=meta("too_large", c.name)),
            ]
        elif c.kind == CODE:
            expectations.append(gxe.ExpectColumnValuesToBeInSet(
                column=c.name, value_set=sorted(known_organisations), meta=meta("organisation_known", c.name)))
            if submitter:
                expectations.append(gxe.ExpectColumnValuesToBeInSet(
                    column=c.name, value_set=[submitter], meta=meta("submitter_matches", c.name)))
        elif c.kind == QUARTER:
            expectations += [
                gxe.ExpectColumnValuesToMatchRegex(column=c.name, regex=QUARTER_PATTERN.pattern.replace("(", "(?:"),
                                                   meta=meta("quarter_format", c.name)),
                gxe.ExpectColumnValuesToBeInSet(column=c.name, value_set=quarters,
                                                meta=meta("quarter_open", c.name, latest_quarter=quarters[-1])),
            ]
        elif c.kind == TEXT:
            expectations += [
                gxe.ExpectColumnValueLengthsToBeBetween(column=c.name, max_value=MAX_NOTE_CHARACTERS,
                                                        meta=meta("note_too_long", c.name)),
                gxe.ExpectColumnValuesToNotMatchRegex(
                    column=c.name, regex="^[" + re.escape("".join(FORMULA_PREFIXES)) + "]",
                    meta=meta("no_formula", c.name)),
            ]
    for rule in CROSS_FIELD_RULES:
        involved = [rule.column, rule.limit, *filter(None, [rule.minus])]
        expectations.append(gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=rule.headroom, column_B=rule.column, or_equal=True, ignore_row_if="either_value_is_missing",
            meta=meta("at_most", rule.column, limit=rule.limit, minus=rule.minus, fix=rule.fix, columns=involved,
                      name=rule.name)))
    for first, second in PAIRED_OPTIONAL:
        expectations.append(gxe.ExpectColumnValuesToBeInSet(
            column=f"{first}__paired", value_set=[True], meta=meta("paired", first, other=second,
                                                                   columns=[first, second])))
    expectations.append(gxe.ExpectCompoundColumnsToBeUnique(
        column_list=KEY_COLUMNS, meta=meta("one_return_per_row", "reporting_quarter", columns=KEY_COLUMNS)))
    for p in PLATFORMS:
        live = f"{p.key}_services_live"
        expectations.append(gxe.ExpectColumnValuesToBeInSet(
            column=f"{p.key}_transactions__given", value_set=[True],
            meta=meta("transactions_missing", f"{p.key}_transactions", "warning", live=live,
                      columns=[live, f"{p.key}_transactions"])))
    expectations.append(gxe.ExpectColumnValuesToBeInSet(
        column="verify_services_in_scope__in_period", value_set=[True],
        meta=meta("verify_after_closure", "verify_services_in_scope", "warning",
                  columns=["verify_services_in_scope", "reporting_quarter"])))
    return expectations


@cache
def _batch_definition():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    context = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
        analytics_enabled=False,
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    ))
    source = context.data_sources.add_pandas("department_returns")
    return source.add_dataframe_asset("return_rows").add_batch_definition_whole_dataframe("whole_return")


def _run_suite(frame: pd.DataFrame, known_organisations: Collection[str], as_of: dt.date,
               submitter: str | None) -> list[tuple[dict, int]]:
    """Validate with the generated suite; return (rule meta, row number) for every failing cell."""
    import great_expectations as gx

    suite = gx.ExpectationSuite(name="department_return",
                                expectations=contract_expectations(known_organisations, as_of, submitter))
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame.reset_index(drop=True)})
    result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    failures = []
    for outcome in result.results:
        if outcome.success:
            continue
        if outcome.exception_info and outcome.exception_info.get("raised_exception"):
            raise RuntimeError(f"validation rule {outcome.expectation_config.meta.get('rule')} could not run: "
                               f"{outcome.exception_info.get('exception_message')}")
        for position in outcome.result.get("unexpected_index_list") or []:
            index = position if isinstance(position, int) else position.get("index", position)
            failures.append((dict(outcome.expectation_config.meta), int(frame.index[index])))
    return failures


def validate_rows(frame: pd.DataFrame, known_organisations: Collection[str], as_of: dt.date) -> list[Problem]:
    """Re-check typed rows already in the warehouse against the same suite (the blocking asset check)."""
    framed = frame[COLUMN_NAMES].copy()
    framed.index = range(2, len(framed) + 2)
    raw = {n: {c: "" if pd.isna(v) else str(v) for c, v in framed.loc[n].items()} for n in framed.index}
    problems = []
    for meta, row in _run_suite(_with_derived_columns(framed), known_organisations, as_of, None):
        if meta["severity"] == "error":
            problems.append(_problem_for(meta, row, raw[row], framed, None))
    return problems
