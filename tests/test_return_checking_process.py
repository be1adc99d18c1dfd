"""Returns checked in the judge's own process come to the reports the run's own process makes
(checks/return_checking_process.py, ``ReturnJudge.check_later``), and a process that has gone changes nothing."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from checks.return_validation import ReturnJudge, validate_return
from tests.returns_helpers import AS_OF, KNOWN, VERSION_1_HEADER, csv_bytes, row, xlsx_bytes


def _files() -> list[tuple[bytes, str, str | None]]:
    """(content, name, sender): accepted, with warnings, normalised, rejected in several ways, unreadable."""
    return [
        (csv_bytes(row()), "valid.csv", "D10"),
        (csv_bytes(row(one_login_transactions="")), "warning.csv", "D10"),
        (csv_bytes(row(pay_services_live="1,000", ddat_staff_fte="412.567", reporting_quarter="2025/26 q3")),
         "normalised.csv", "D10"),
        (csv_bytes(row(pay_services_live="99")), "live-beyond-scope.csv", "D10"),
        (csv_bytes(row(organisation_code="EA73")), "another-body.csv", "D10"),
        (csv_bytes(row(notify_services_live="many")), "text-in-a-number.csv", "D10"),
        (csv_bytes(row(), row(reporting_quarter="2025-26 Q2")), "two-rows.csv", "D10"),
        (csv_bytes(row(organisation_code="EA74"), header=VERSION_1_HEADER), "earlier-template.csv", "EA74"),
        (xlsx_bytes(row(organisation_code="D16")), "valid.xlsx", "D16"),
        (b"not,a,return\r\n", "nonsense.csv", "EA73"),
        (b"\x00\x01 not text", "binary.csv", None),
        (csv_bytes(row()), "valid.csv", "EA73"),  # the same bytes and name from another sender: judged apart
    ]


def _same(made: list, expected: list) -> None:
    for got, want in zip(made, expected, strict=True):
        assert (got.status, got.version, got.key, got.sheet) == (want.status, want.version, want.key, want.sheet)
        assert [p.describe() for p in got.problems] == [p.describe() for p in want.problems]
        assert [w.describe() for w in got.warnings] == [w.describe() for w in want.warnings]
        assert [n.record() for n in got.normalisations] == [n.record() for n in want.normalisations]
        assert got.as_recorded().raw_rows == want.as_recorded().raw_rows  # all the run records of the rows
        if want.returns is None:
            assert got.returns is None
        else:
            pd.testing.assert_frame_equal(got.returns.reset_index(drop=True), want.returns.reset_index(drop=True))


def _alone(files) -> list:
    return [validate_return(content, name, KNOWN, AS_OF, submitter=sender) for content, name, sender in files]


def test_the_other_process_makes_the_reports_this_one_would():
    files = _files()
    with ReturnJudge(KNOWN, AS_OF, elsewhere=True) as judge:
        assert judge._elsewhere is not None
        for start in range(0, len(files), 5):  # three batches sent before any is taken, as ingestion does
            judge.check_later(files[start:start + 5])
        assert judge._elsewhere.waiting == 3
        made = [judge(*file) for file in files]
        assert judge._elsewhere.waiting == 0 and not judge._later
    assert {r.status for r in made} == {"accepted", "accepted with warnings", "rejected"}
    _same(made, _alone(files))


def test_the_other_process_sends_back_what_the_run_records_not_every_cell():
    """Of the rows as sent, the first (the report's key) and those a problem or warning names; no rule frame."""
    files = [(csv_bytes(row(), row(reporting_quarter="2025-26 Q2"), row(reporting_quarter="2025-26 Q1")),
              "three-rows.csv", "D10"), (csv_bytes(row(one_login_transactions="")), "warning.csv", "D10"),
             (csv_bytes(row()), "valid.csv", "D10")]
    with ReturnJudge(KNOWN, AS_OF, elsewhere=True) as judge:
        judge.check_later(files)
        made = [judge(*file) for file in files]
    alone = _alone(files)
    assert all(report.checked is None for report in made) and all(r.checked is not None for r in alone)
    for got, want in zip(made, alone, strict=True):
        named = {p.row for p in [*want.problems, *want.warnings] if p.row is not None}
        assert set(got.raw_rows) == {min(want.raw_rows)} | named
        assert got.raw_rows == {row: want.raw_rows[row] for row in got.raw_rows}  # as sent
        assert got.key == want.key
    assert len(made[0].raw_rows) == 1 and len(alone[0].raw_rows) == 3  # its problem is the file's: no row named


def test_the_process_ends_when_the_judge_is_left():
    with ReturnJudge(KNOWN, AS_OF, elsewhere=True) as judge:
        process = judge._elsewhere.process
        judge.check_later(_files()[:2])
    assert process.wait(timeout=10) == 0


def test_a_process_that_has_gone_leaves_the_files_to_this_one(caplog):
    files = _files()
    with caplog.at_level(logging.WARNING), ReturnJudge(KNOWN, AS_OF, elsewhere=True) as judge:
        judge.check_later(files[:6])
        first = [judge(*file) for file in files[:6]]  # answered by the other process
        judge._elsewhere.process.kill()
        judge._elsewhere.process.wait()
        judge.check_later(files[6:])  # sent to nobody, or never answered: checked here
        rest = [judge(*file) for file in files[6:]]
        judge.check_later(files[:3])  # after that, nothing is sent: checked here at once
        again = [judge(*file) for file in files[:3]]
    assert judge._elsewhere is None
    _same(first + rest + again, _alone(files + files[:3]))
    assert "The process checking returns has ended" in caplog.text and "the run does that work itself" in caplog.text


@pytest.mark.parametrize("elsewhere", [False, True])
def test_a_file_not_sent_ahead_is_checked_when_asked(elsewhere):
    files = _files()
    with ReturnJudge(KNOWN, AS_OF, elsewhere=elsewhere) as judge:
        judge.check_later(files[:2])
        made = [judge(*files[5]), judge(*files[0]), judge(*files[1]), judge(*files[0])]  # the last: asked twice
    _same(made, _alone([files[5], files[0], files[1], files[0]]))
