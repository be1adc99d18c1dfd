"""CSV downloads cannot carry spreadsheet formulas."""

from __future__ import annotations

import csv
import io

import pandas as pd

from dashboard.export import safe_csv


def test_formula_cells_are_neutralised_and_numbers_kept():
    frame = pd.DataFrame({
        "organisation": ["=HYPERLINK(\"http://x\")", "+SUM(A1)", "-2+3", "@cmd", "\tTab", "\rCR", "Home Office"],
        "services": [1, 2, -3, 4, 5, 6, 7],
    })
    text = safe_csv(frame).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(\"http://x\")", "'+SUM(A1)", "'-2+3", "'@cmd", "'\tTab",
                                        "'\rCR", "Home Office"]
    assert [r[1] for r in rows[1:]] == ["1", "2", "-3", "4", "5", "6", "7"]  # real numbers are not text


def test_headers_are_neutralised_too():
    text = safe_csv(pd.DataFrame({"=cmd": ["x"]})).decode("utf-8-sig")
    assert text.splitlines()[0] == "'=cmd"
