"""CSV downloads that a spreadsheet cannot run as formulas.

A text cell that starts with = + - @ (or a tab or carriage return) would be
read by Excel or Sheets as a formula, so it is prefixed with an apostrophe,
as OWASP advises for CSV injection. Numbers and dates are written as they are.
"""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_csv(frame: pd.DataFrame) -> bytes:
    """The frame as UTF-8 CSV (with a BOM, so Excel reads £ and accents), formulas neutralised."""
    cleaned = frame.copy()
    cleaned.columns = [neutralise(str(c)) for c in cleaned.columns]
    for column in cleaned.columns:
        if cleaned[column].dtype == object or pd.api.types.is_string_dtype(cleaned[column]):
            cleaned[column] = cleaned[column].map(neutralise)
    # RFC 4180 line endings, so a CR or LF inside a cell is quoted rather than breaking the row
    return cleaned.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
