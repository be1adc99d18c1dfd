"""The return contract compiled to one list of rules, which both validation engines apply.

``checks/return_contract.py`` declares the columns, limits and messages. This
module decides, once, which checks follow from them: one ``Rule`` per rule and
column, each a kind of check (not null, between, in a set...) over columns of
the *rule frame* (the typed rows plus a few derived columns, built by
``rule_frame``), with its severity and what its message needs. Two engines
apply the same list to the same frame and must find the same failures:

- ``evaluate`` at the end of this module: a few lines of pandas per kind, no
  Great Expectations. It is what accepts or rejects a return (``tracker
  validate``, the pipeline's per-file gate, the upload page).
- ``checks/return_gx.py``: each rule translated to one Great Expectations
  expectation; the pipeline validates the accepted rows of a run, and the
  warehouse's figures, with that suite.

A finding is (rule, row, column): the rule's message key in MESSAGES or
WARNINGS, the frame's row label (the spreadsheet row number for a file), and
the contract column it is reported at. ``tests/test_return_parity.py`` holds the
two engines to the same findings.

Like the contract, this module imports nothing heavy.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, NamedTuple

import pandas as pd

from checks.return_contract import (
    CODE,
    COLUMN_BY_NAME,
    COLUMNS,
    COUNT,
    CROSS_FIELD_RULES,
    FORMULA_PREFIXES,
    KEY_COLUMNS,
    MAX_NOTE_CHARACTERS,
    MESSAGES,
    NUMBER,
    PAIRED_OPTIONAL,
    PLATFORMS,
    QUARTER,
    QUARTER_LABEL_RULE,
    RANKED_CHOICES,
    TEXT,
    VERIFY_LAST_QUARTER,
    WARNINGS,
    Quarter,
    first_quarter,
    open_quarters,
    section_flag,
)

ERROR, WARNING = "error", "warning"

# The kinds of check. Each reads ``columns`` of the rule frame; all but NOT_NULL pass over missing values
# (for the pair kinds: a row missing either value; for COMPOUND_UNIQUE: a row missing all of them).
NOT_NULL = "not_null"  # the value is present
BETWEEN = "between"  # params min_value and/or max_value, inclusive
IN_SET = "in_set"  # params value_set
REGEX = "regex"  # params regex: the text (as str) contains a match
NOT_REGEX = "not_regex"  # params regex: the text (as str) contains no match
LENGTH_AT_MOST = "length_at_most"  # params max_value: the text (as str) is no longer
A_AT_LEAST_B = "a_at_least_b"  # columns (A, B): A >= B
A_EQUALS_B = "a_equals_b"  # columns (A, B): A == B
COMPOUND_UNIQUE = "compound_unique"  # no two rows share the values of all the columns
EQUALS_TRUE = "equals_true"  # a derived yes/no column is True
KINDS = (NOT_NULL, BETWEEN, IN_SET, REGEX, NOT_REGEX, LENGTH_AT_MOST, A_AT_LEAST_B, A_EQUALS_B, COMPOUND_UNIQUE,
         EQUALS_TRUE)

# Derived columns of the rule frame that are not about one contract column.
SUBMITTED_BY = "submitted_by"  # the organisation that sent the row's file, when known
RETURN_FILE = "return_file"  # which file the row came from: rows of different files are not duplicates


@dataclass(frozen=True)
class Rule:
    """One check of the contract, in terms both engines apply the same way."""

    rule: str  # the message key in MESSAGES (severity error) or WARNINGS (severity warning)
    kind: str  # one of KINDS
    columns: tuple[str, ...]  # the rule frame's columns it reads, in order (A, B for the pair kinds)
    column: str  # the contract column a finding is reported at
    severity: str = ERROR
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)  # kind-specific: see KINDS
    involves: tuple[str, ...] = ()  # contract columns it depends on: a cell that could not be read silences it
    meta: Mapping[str, Any] = field(default_factory=dict, hash=False)  # what the message needs (limit, fix, ...)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind of rule: {self.kind}")
        if self.rule not in (WARNINGS if self.severity == WARNING else MESSAGES):
            raise ValueError(f"rule {self.rule} ({self.severity}) has no message in the contract")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))
        object.__setattr__(self, "involves", self.involves or (self.column,))

    @property
    def key(self) -> tuple[str, str]:
        """(rule, column): unique within the list."""
        return self.rule, self.column


class Finding(NamedTuple):
    """A rule that failed for a row: what each engine yields."""

    rule: str
    row: int
    column: str


def finding(rule: Rule, row: int) -> Finding:
    return Finding(rule.rule, int(row), rule.column)


def contract_rules(known_organisations: Collection[str], as_of: dt.date) -> tuple[Rule, ...]:
    """Every rule of the contract for a reporting date and the organisations the tracker knows, in order."""
    return _contract_rules(frozenset(known_organisations), as_of, first_quarter())


@lru_cache(maxsize=8)
def _contract_rules(known_organisations: frozenset[str], as_of: dt.date, first: str) -> tuple[Rule, ...]:
    quarters = tuple(open_quarters(as_of))  # from ``first``, which is part of the cache key
    rules: list[Rule] = []
    for c in COLUMNS:
        if c.required:
            required = {COUNT: "required", NUMBER: "required_number"}.get(c.kind, "required_text")
            if section_flag(c) is None:
                rules.append(Rule(required, NOT_NULL, (c.name,), c.name))
            else:  # a later section's column: required only in returns that report the section
                rules.append(Rule(required, EQUALS_TRUE, (f"{c.name}__given",), c.name))
        if c.kind in (COUNT, NUMBER):
            rules += [
                Rule("not_negative", BETWEEN, (c.name,), c.name, params={"min_value": 0}),
                Rule("too_large", BETWEEN, (c.name,), c.name, params={"max_value": c.maximum}),
            ]
        elif c.kind == CODE:
            rules += [
                Rule("organisation_known", IN_SET, (c.name,), c.name,
                     params={"value_set": tuple(sorted(known_organisations))}),
                Rule("submitter_matches", A_EQUALS_B, (c.name, SUBMITTED_BY), c.name),
            ]
        elif c.kind == QUARTER:
            rules += [
                Rule("quarter_format", REGEX, (c.name,), c.name,
                     params={"regex": QUARTER_LABEL_RULE}),
                Rule("quarter_open", IN_SET, (c.name,), c.name, params={"value_set": quarters},
                     meta={"first_quarter": first, "latest_quarter": quarters[-1]}),
            ]
        elif c.kind == TEXT and c.choices:  # picked from a list: the list is the whole rule
            rules.append(Rule("choice_known", IN_SET, (c.name,), c.name, params={"value_set": c.choices}))
        elif c.kind == TEXT:
            rules += [
                Rule("note_too_long", LENGTH_AT_MOST, (c.name,), c.name, params={"max_value": MAX_NOTE_CHARACTERS}),
                Rule("no_formula", NOT_REGEX, (c.name,), c.name,
                     params={"regex": "^[" + re.escape("".join(FORMULA_PREFIXES)) + "]"}),
            ]
    for at_most in CROSS_FIELD_RULES:
        rules.append(Rule(
            "at_most", A_AT_LEAST_B, (at_most.headroom, at_most.column), at_most.column,
            involves=(at_most.column, at_most.limit, *filter(None, [at_most.minus])),
            meta={"name": at_most.name, "limit": at_most.limit, "minus": at_most.minus, "fix": at_most.fix}))
    for ranked in RANKED_CHOICES:
        for rank, column in enumerate(ranked.columns):
            rules.append(Rule("choice_alone", EQUALS_TRUE, (f"{column}__alone",), column, involves=ranked.columns,
                              meta={"columns": ranked.columns, "alone": ranked.alone}))
            if rank:
                earlier = ranked.columns[:rank]
                rules.append(Rule("choice_repeated", EQUALS_TRUE, (f"{column}__once",), column,
                                  involves=(*earlier, column), meta={"earlier": earlier}))
                if not COLUMN_BY_NAME[earlier[-1]].required:  # a required one left blank says so itself
                    rules.append(Rule("choice_in_order", EQUALS_TRUE, (f"{column}__in_order",), column,
                                      involves=(earlier[-1], column), meta={"other": earlier[-1]}))
    for first, second in PAIRED_OPTIONAL:
        rules.append(Rule("paired", EQUALS_TRUE, (f"{first}__paired",), first, involves=(first, second),
                          meta={"other": second}))
    rules.append(Rule("one_return_per_row", COMPOUND_UNIQUE, (RETURN_FILE, *KEY_COLUMNS), "reporting_quarter",
                      involves=tuple(KEY_COLUMNS)))
    for p in PLATFORMS:
        live, transactions = f"{p.key}_services_live", f"{p.key}_transactions"
        rules.append(Rule("transactions_missing", EQUALS_TRUE, (f"{transactions}__given",), transactions, WARNING,
                          involves=(live, transactions), meta={"live": live}))
    rules.append(Rule("verify_after_closure", EQUALS_TRUE, ("verify_services_in_scope__in_period",),
                      "verify_services_in_scope", WARNING, involves=("verify_services_in_scope", "reporting_quarter")))
    for ranked in RANKED_CHOICES:
        for column in ranked.columns:
            rules.append(Rule("choice_other_unexplained", EQUALS_TRUE, (f"{column}__explained",), column, WARNING,
                              involves=(column, ranked.note), meta={"note": ranked.note}))
    keys = [r.key for r in rules]
    assert len(keys) == len(set(keys)), "two rules report the same rule at the same column"
    return tuple(rules)


def rule_frame(typed: pd.DataFrame, submitted_by: object = None, return_file: object = "return") -> pd.DataFrame:
    """The frame the rules read: the typed rows (index kept), counts as floats, and the derived columns.

    ``submitted_by`` and ``return_file``: one value for every row, or a sequence with one per row. Rows of
    different files are never duplicates of each other; no sender (None) means no sender to check against.
    """
    frame = typed.copy()
    for column in COLUMNS:
        if column.kind in (COUNT, NUMBER):
            frame[column.name] = pd.to_numeric(typed[column.name], errors="coerce").astype("float64")
        flag = section_flag(column)
        if column.required and flag is not None:
            frame[f"{column.name}__given"] = ~(typed[flag].astype(bool) & typed[column.name].isna())
    for ranked in RANKED_CHOICES:
        picks = [typed[c] for c in ranked.columns]
        for rank, (column, pick) in enumerate(zip(ranked.columns, picks, strict=True)):
            others = [p for i, p in enumerate(picks) if i != rank]
            another = pd.concat([p.notna() & (p != ranked.alone) for p in others], axis=1).any(axis=1)
            frame[f"{column}__alone"] = ~((pick == ranked.alone) & another)
            if rank:
                repeated = pd.concat([pick == p for p in picks[:rank]], axis=1).any(axis=1)
                frame[f"{column}__once"] = ~(pick.notna() & repeated)
                frame[f"{column}__in_order"] = ~(pick.notna() & picks[rank - 1].isna())
            frame[f"{column}__explained"] = ~((pick == ranked.other) & typed[ranked.note].isna())
    for rule in CROSS_FIELD_RULES:
        if rule.minus:
            frame[rule.headroom] = frame[rule.limit] - frame[rule.minus]
    for first, second in PAIRED_OPTIONAL:
        frame[f"{first}__paired"] = typed[first].isna() == typed[second].isna()
    for p in PLATFORMS:
        live = frame[f"{p.key}_services_live"]
        frame[f"{p.key}_transactions__given"] = ~(typed[f"{p.key}_transactions"].isna() & (live > 0))
    verify_closed = Quarter.parse(VERIFY_LAST_QUARTER)
    after_verify = typed["reporting_quarter"].map(lambda q: (Quarter.parse(q or "") or verify_closed) > verify_closed)
    frame["verify_services_in_scope__in_period"] = ~(after_verify & typed["verify_services_in_scope"].notna())
    frame[SUBMITTED_BY] = _per_row(submitted_by, frame.index)
    # No file for a row with neither key: a row missing every key column is not compared (as both engines do).
    keyless = typed[KEY_COLUMNS].isna().all(axis=1)
    frame[RETURN_FILE] = _per_row(return_file, frame.index).mask(keyless, None)
    return frame


def _per_row(value: object, index: pd.Index) -> pd.Series:
    if isinstance(value, str) or value is None or not isinstance(value, Collection):
        return pd.Series([value] * len(index), index=index, dtype=object)
    return pd.Series(list(value), index=index, dtype=object)


# --- The native evaluator -------------------------------------------------------------
# Each kind of rule is evaluated the way Great Expectations' pandas engine evaluates the
# expectation it is translated to (checks/return_gx.py), so the two find the same failures:
# missing values are passed over except by NOT_NULL, pairs with a missing side are passed
# over, text rules read the value as ``str``, and compound uniqueness counts every row of a
# duplicated group. It takes milliseconds a file and imports no Great Expectations.


def evaluate(rules: Iterable[Rule], frame: pd.DataFrame) -> list[Finding]:
    """Every (rule, row, column) that fails, rule by rule in the list's order, rows in the frame's order."""
    return [finding(rule, row) for rule in rules for row in frame.index[failing(rule, frame)]]


def failing(rule: Rule, frame: pd.DataFrame) -> pd.Series:
    """A yes/no mask over the frame's rows: True where ``rule`` fails."""
    columns = [frame[c] for c in rule.columns]
    value, params = columns[0], rule.params
    if rule.kind == NOT_NULL:
        return value.isna()
    if rule.kind == A_AT_LEAST_B:
        return columns[0].notna() & columns[1].notna() & ~(columns[0] >= columns[1])
    if rule.kind == A_EQUALS_B:
        return columns[0].notna() & columns[1].notna() & ~(columns[0] == columns[1])
    if rule.kind == COMPOUND_UNIQUE:
        keys = frame[list(rule.columns)]
        considered = keys.notna().any(axis=1)
        duplicated = keys[considered].duplicated(keep=False).reindex(frame.index, fill_value=False)
        return considered & duplicated
    present = value.notna()
    if rule.kind == BETWEEN:
        passes = pd.Series(True, index=frame.index)
        if params.get("min_value") is not None:
            passes &= value >= params["min_value"]
        if params.get("max_value") is not None:
            passes &= value <= params["max_value"]
    elif rule.kind in (IN_SET, EQUALS_TRUE):
        passes = value.isin(list(params["value_set"]) if rule.kind == IN_SET else [True])
    elif rule.kind in (REGEX, NOT_REGEX):
        matches = value.astype(str).str.contains(params["regex"], regex=True)
        passes = matches if rule.kind == REGEX else ~matches
    elif rule.kind == LENGTH_AT_MOST:
        passes = value.astype(str).str.len() <= params["max_value"]
    else:
        raise ValueError(f"the native evaluator has no way to apply a {rule.kind} rule")
    return present & ~passes.astype(bool)
