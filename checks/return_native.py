"""The native evaluator: the contract's rules applied to a rule frame with pandas alone.

Each kind of rule is evaluated the way Great Expectations' pandas engine
evaluates the expectation it is translated to (``checks/return_gx.py``), so the
two find the same failures: missing values are passed over except by NOT_NULL,
pairs with a missing side are passed over, text rules read the value as
``str``, and compound uniqueness counts every row of a duplicated group.
``tests/test_return_parity.py`` holds them to that.

It is what accepts or rejects a return: milliseconds a file, and no Great
Expectations import (seconds) on the command line or an upload page.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from checks.return_rules import (
    A_AT_LEAST_B,
    A_EQUALS_B,
    BETWEEN,
    COMPOUND_UNIQUE,
    EQUALS_TRUE,
    IN_SET,
    LENGTH_AT_MOST,
    NOT_NULL,
    NOT_REGEX,
    REGEX,
    Finding,
    Rule,
    finding,
)


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
