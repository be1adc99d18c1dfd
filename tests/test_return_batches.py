"""Returns checked in a batch get exactly the reports each would get alone (checks/return_validation.py).

Ingestion checks the files of a run together, so the rules' pandas work is done once a batch rather than once a
file. Nothing about one file may leak into another's report: the same problems, warnings, normalisations, rows
kept and findings, whatever else is in the batch and in whatever order.
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest

import checks.return_validation as validation
from checks.return_validation import ValidationReport, validate_return, validate_returns
from tests.returns_helpers import AS_OF, KNOWN, VERSION_1_HEADER, csv_bytes, row, xlsx_bytes
from tests.test_return_fuzz import CORPUS, SAMPLE_CSV, SAMPLE_XLSX, variants


def _files() -> list[tuple[bytes, str, str | None]]:
    """Valid returns, returns with warnings, every kind of problem, unreadable files, several rows, an earlier
    template, and two files with the same organisation and quarter (not duplicates of each other)."""
    files = [
        (csv_bytes(row()), "valid.csv", "D10"),
        (csv_bytes(row()), "same-key-other-file.csv", "D10"),
        (xlsx_bytes(row(organisation_code="EA73")), "valid.xlsx", "EA73"),
        (SAMPLE_XLSX, "sample.xlsx", "D10"),
        (SAMPLE_CSV, "sample.csv", "EA73"),
        (csv_bytes(row(pay_services_live="99")), "live-above-scope.csv", "D10"),
        (csv_bytes(row(one_login_transactions="")), "warning.csv", "D10"),
        (csv_bytes(row(organisation_code="EA74")), "another-sender.csv", "D10"),
        (csv_bytes(row(organisation_code="ZZ99")), "unknown-organisation.csv", None),
        (csv_bytes(row(reporting_quarter="2031-32 Q1")), "quarter-not-open.csv", "D10"),
        (csv_bytes(row(pay_services_live="eight")), "not-a-number.csv", "D10"),
        (csv_bytes(row(pay_services_live="410,000.00", pay_services_in_scope="1,000,000")), "formatted.csv", "D10"),
        (csv_bytes(row(blockers_note="=HYPERLINK(1)")), "formula.csv", "D10"),
        (csv_bytes(row(), row()), "two-rows-same-key.csv", "D10"),
        (csv_bytes(row(), row(reporting_quarter="2025-26 Q2")), "two-rows.csv", "D10"),
        (csv_bytes(row(main_barrier_2="legacy technology")), "repeated-choice.csv", "D10"),
        (csv_bytes({k: v for k, v in row().items() if k in VERSION_1_HEADER}, header=VERSION_1_HEADER),
         "version-1.csv", "D10"),
        (csv_bytes(row(pay_transactions="9" * 309)), "309-digits.csv", "D10"),  # parsed, too large for the types
        (csv_bytes(row(pay_transactions="-" + "9" * 40)), "negative-40-digits.csv", "D10"),
        (csv_bytes(row(blockers_note="x" * 400)), "long-note.csv", "D10"),
        (b"", "empty.csv", "D10"),
        (b"\x89PNG\r\n\x1a\n\x00\xff", "picture.xlsx", "D10"),
        (csv_bytes(row())[:40], "cut-short.csv", "D10"),
    ]
    files += [(path.read_bytes(), path.name, "D10") for path in sorted(CORPUS.glob("*"))]
    files += [(content, name, "D10") for name, content in variants(20261204, 60)]
    return files


def _same(batch: ValidationReport, alone: ValidationReport) -> None:
    name = alone.file_name
    assert batch.file_name == name
    assert [(p.rule, p.row, p.column, p.describe(), p.file, p.sheet) for p in batch.problems] == \
        [(p.rule, p.row, p.column, p.describe(), p.file, p.sheet) for p in alone.problems], name
    assert [w.describe() for w in batch.warnings] == [w.describe() for w in alone.warnings], name
    assert batch.normalisations == alone.normalisations, name
    assert batch.findings == alone.findings, name
    assert (batch.status, batch.key, batch.version, batch.sheet, batch.raw_rows) == \
        (alone.status, alone.key, alone.version, alone.sheet, alone.raw_rows), name
    if alone.returns is None:
        assert batch.returns is None, name
    else:
        pd.testing.assert_frame_equal(batch.returns, alone.returns)


def test_a_batch_gets_the_reports_each_file_gets_alone():
    files = _files()
    alone = [validate_return(content, name, KNOWN, AS_OF, submitter=sender) for content, name, sender in files]
    statuses = {report.status for report in alone}
    assert statuses == {"accepted", "accepted with warnings", "rejected"}  # the batch has every outcome
    faults = [r.file_name for r in alone if any(p.rule == validation.UNCHECKED for p in r.problems)]
    assert faults == []  # every file judged for what is in it, never the tracker's own fault
    for batch, single in zip(validate_returns(files, KNOWN, AS_OF), alone, strict=True):
        _same(batch, single)


def test_the_order_of_the_batch_changes_nothing():
    files = _files()
    order = list(range(len(files)))
    random.Random(7).shuffle(order)
    first = validate_returns(files, KNOWN, AS_OF)
    shuffled = validate_returns([files[i] for i in order], KNOWN, AS_OF)
    for position, i in enumerate(order):
        _same(shuffled[position], first[i])


def test_rows_of_different_files_are_never_duplicates():
    reports = validate_returns([(csv_bytes(row()), f"copy-{n}.csv", "D10") for n in range(3)], KNOWN, AS_OF)
    assert [r.status for r in reports] == ["accepted"] * 3


def test_a_fault_while_checking_is_the_one_files_alone(monkeypatch, caplog):
    """A fault in the tracker on one file's rows: that file is refused as not checked, the others are judged."""
    real = validation.problems_for

    def fails_for_one(findings, rules, checked, raw_rows, unparsed=()):
        if any(values.get("blockers_note") == "trips the fault" for values in raw_rows.values()):
            raise RuntimeError("a bug")
        return real(findings, rules, checked, raw_rows, unparsed)

    monkeypatch.setattr(validation, "problems_for", fails_for_one)
    files = [(csv_bytes(row()), "good.csv", "D10"),
             (csv_bytes(row(blockers_note="trips the fault")), "faulty.csv", "D10"),
             (csv_bytes(row(pay_services_live="99")), "bad.csv", "D10")]
    good, faulty, bad = validate_returns(files, KNOWN, AS_OF)
    assert good.status == "accepted" and good.returns is not None
    assert [p.rule for p in faulty.problems] == [validation.UNCHECKED] and faulty.returns is None
    assert "fault in the tracker" in faulty.problems[0].message
    assert bad.status == "rejected" and [p.rule for p in bad.problems] == ["at_most"]


@pytest.mark.parametrize("size", [1, 2, 50])
def test_batches_of_any_size(size):
    files = [(csv_bytes(row(notify_services_live=str(n % 40))), f"r{n}.csv", "D10") for n in range(size)]
    assert [r.status for r in validate_returns(files, KNOWN, AS_OF)] == ["accepted"] * size


def _forget_cells_and_headers() -> None:
    from checks import return_files

    validation._understood.cache_clear()
    return_files._checked_header.cache_clear()


def test_cells_and_headers_remembered_from_other_files_change_no_report():
    """A short cell or a header is parsed once a process: each file still gets the report it gets in a fresh
    process, its problems and normalisations at its own rows, whatever was remembered from files before it."""
    files = _files()
    # the same cells at other rows: a bad figure and a formatted one, on the second and third row
    files += [(csv_bytes(row(), row(pay_services_live="eight", pay_services_in_scope="1,000,000")), "rows.csv", "D10"),
              (csv_bytes(row(reporting_quarter="2025-26 Q2"), row(), row(pay_services_live="eight")), "r3.csv", "D10")]
    fresh = []
    for content, name, sender in files:
        _forget_cells_and_headers()
        fresh.append(validate_return(content, name, KNOWN, AS_OF, submitter=sender))
    _forget_cells_and_headers()
    validate_returns(files, KNOWN, AS_OF)  # everything remembered now
    for remembered, alone in zip(validate_returns(files, KNOWN, AS_OF), fresh, strict=True):
        _same(remembered, alone)
    assert validation._understood.cache_info().hits > len(files)
    eight = [p for r in fresh[-2:] for p in r.problems if p.rule == "whole_number"]
    assert [(p.row, p.value) for p in eight] == [(3, "eight"), (4, "eight")]


def test_a_remembered_header_is_handed_out_as_a_copy():
    from checks.return_files import read_return_file

    _forget_cells_and_headers()
    first = read_return_file(csv_bytes(row()), "a.csv")
    first.header.append("changed by its reader")
    assert "changed by its reader" not in read_return_file(csv_bytes(row()), "b.csv").header


def test_a_long_cell_is_parsed_every_time_and_never_remembered(monkeypatch):
    """Only short cells are remembered: a long one (a note, a figure of many digits) is parsed on its own."""
    asked = []
    remembered = validation._understood
    monkeypatch.setattr(validation, "_understood", lambda column, text: asked.append(text) or remembered(column, text))
    long_figure = "1" + "0" * validation.REMEMBERED_CELL_CHARACTERS
    content = csv_bytes(row(pay_transactions=long_figure, blockers_note="n" * 200))
    report = validate_return(content, "long.csv", KNOWN, AS_OF, "D10")
    assert asked and long_figure not in asked and "n" * 200 not in asked
    assert all(len(text) <= validation.REMEMBERED_CELL_CHARACTERS for text in asked)
    again = validate_return(content, "long.csv", KNOWN, AS_OF, "D10")
    assert [p.describe() for p in report.problems] == [p.describe() for p in again.problems]


@pytest.mark.parametrize("home", ["/srv/tracker", "/srv/tracker/", "relative/home", "./relative/home", "/"])
def test_an_archived_path_is_shown_from_the_home_as_relative_to_gives_it(home):
    from assets.returns import _shown_path

    target = Path(home) / "returns" / "archive" / "D16" / "2026-01-31_abc.csv"
    assert _shown_path(home, target) == _shown_path(Path(home), target) == str(target.relative_to(home))
    with pytest.raises(ValueError):  # outside the home: said, as before, not cut at the wrong place
        _shown_path(home, Path("/elsewhere/returns/archive/x.csv") if home != "/" else Path("relative/x.csv"))


@pytest.mark.parametrize("spelling", ["2025-26 Q3", "2025/26 Q3", " 2025-26  q3 ", "Q3 2025-26", "2025-27 Q3", ""])
def test_a_remembered_quarter_is_the_quarter_the_spelling_names(spelling):
    from checks.return_contract import Quarter, normalise_quarter
    from checks.return_validation import _quarter_label

    quarter = Quarter.parse(normalise_quarter(spelling))
    assert _quarter_label(spelling) == _quarter_label(spelling) == (quarter.label if quarter else None)
