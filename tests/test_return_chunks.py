"""Returns taken in chunks come to exactly what taking them one at a time does (assets/returns.py).

Ingestion judges a chunk of inbox files against lookups made once and writes the chunk in one transaction. Two
homes get the same inbox: one takes each file on its own (``ingest_file``, one transaction a file), the other in
chunks small enough that corrections, re-sent files and duplicates fall both within a chunk and across chunks.
Every returns table must be equal (load-time columns aside), and so must the archive, file for file.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import dagster as dg
import pytest

import assets.returns as returns
from checks.return_validation import ReturnJudge
from tests.conftest import make_resources, query
from tests.returns_helpers import csv_bytes, row
from tests.warehouse_compare import compare_warehouses
from tracker.return_inbox import SIDECAR, deliver, pending
from tracker.settings import returns_archive_dir, returns_inbox_dir
from tracker.warehouse import connect

START = dt.datetime(2025, 11, 1, 9, 0, tzinfo=dt.UTC)
RETURNS_TABLES = ("raw.return_files", "audit.return_submissions", "quarantine.return_problems",
                  "staging.department_returns", "staging.accepted_returns")


def _figures(organisation: str, quarter: str, live: int, note: str = "") -> bytes:
    return csv_bytes(row(organisation_code=organisation, reporting_quarter=quarter, notify_services_live=str(live),
                         blockers_note=note or f"{organisation} {quarter} {live}"))


def _arrivals() -> list[tuple[bytes, str, str, dt.timedelta]]:
    """(content, name, organisation, received after START): every case in turn, in the order received."""
    first_d10, correction_d10 = _figures("D10", "2025-26 Q2", 30), _figures("D10", "2025-26 Q2", 31)
    arrivals = [
        (first_d10, "d10-q2.csv", "D10"),
        (_figures("EA73", "2025-26 Q2", 12), "ea73-q2.csv", "EA73"),
        (first_d10, "d10-q2-again.csv", "D10"),  # the same bytes, in force: a duplicate (same chunk)
        (correction_d10, "d10-q2-corrected.csv", "D10"),  # a correction replaces it
        (_figures("D16", "2025-26 Q1", 5), "d16-q1.csv", "D16"),
        (csv_bytes(row(organisation_code="D16", pay_services_live="99")), "d16-bad.csv", "D16"),  # rejected
        (first_d10, "d10-q2-first-resent.csv", "D10"),  # the first sent again: in force again, said so
        (_figures("EA74", "2025-26 Q3", 7), "ea74-q3.csv", "EA74"),
        (first_d10, "d10-q2-first-resent-twice.csv", "D10"),  # now a duplicate (next chunk)
        (_figures("EA73", "2025-26 Q2", 12), "ea73-q2-from-d10.csv", "D10"),  # another body's return: rejected
        (b"not,a,return\r\n", "nonsense.csv", "EA73"),
        (correction_d10, "d10-corrected-again.csv", "D10"),  # an earlier accepted return again
        (_figures("D10", "2025-26 Q1", 20), "d10-q1.csv", "D10"),
        (csv_bytes(row(organisation_code="EA73", reporting_quarter="2025-26 Q1", one_login_transactions="")),
         "ea73-warning.csv", "EA73"),  # accepted with a warning
        (_figures("D10", "2025-26 Q1", 20), "d10-q1-dup.csv", "D10"),
        (_figures("EA74", "2025-26 Q3", 8), "ea74-q3-corrected.csv", "EA74"),
    ]
    return [(content, name, organisation, dt.timedelta(minutes=n)) for n, (content, name, organisation)
            in enumerate(arrivals)]


def _deliver_all(home: Path) -> None:
    for content, name, organisation, after in _arrivals():
        deliver(home, content, name, organisation, "test", now=START + after)
    # a return received before one already in force (from an earlier run) for the same quarter: kept in the
    # history, not in force
    deliver(home, _figures("EA73", "2025-26 Q2", 2), "ea73-late-arriving.csv", "EA73", "test",
            now=START - dt.timedelta(days=3))
    # a file whose bytes changed after it was received: refused
    changed = deliver(home, _figures("D16", "2025-26 Q2", 9), "d16-changed.csv", "D16", "test",
                      now=START + dt.timedelta(hours=2))
    changed.path.write_bytes(_figures("D16", "2025-26 Q2", 10))


def _take(home: Path, chunk: int | None, elsewhere: bool = False) -> list[tuple[str, str | None]]:
    """Take the whole inbox, file by file (``chunk`` None) or in chunks, as the run does, each checked against
    the contract in the judge's own process if ``elsewhere``; (reference, outcome) for each file."""
    resources = make_resources(home)
    settings = resources["settings"]
    with connect(resources["warehouse"]) as con:
        for statement in returns.DDL:
            con.execute(statement)
        files = pending(home)
        with ReturnJudge(returns.organisation_codes(con), settings.as_of_date(), elsewhere=elsewhere) as judge:
            if chunk is None:
                return [(f.reference, returns.ingest_file(con, settings, f, judge)) for f in files]
            return [(f.reference, status) for _, _, taken in returns.ingest_in_chunks(con, settings, files, judge,
                                                                                     size=chunk)
                    for f, status in taken]


def _archive(home: Path) -> dict[str, bytes]:
    root = returns_archive_dir(home)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and not p.name.endswith(SIDECAR)}


@pytest.fixture()
def two_homes(returns_home, tmp_path) -> tuple[Path, Path]:
    one, chunked = tmp_path / "one", tmp_path / "chunked"
    for home in (one, chunked):
        home.mkdir()
        shutil.copy(returns_home / "warehouse.duckdb", home / "warehouse.duckdb")
        # an earlier run: EA73's 2025-26 Q2 return in force, received before everything in the inbox but one
        deliver(home, _figures("EA73", "2025-26 Q2", 3), "ea73-earlier-run.csv", "EA73", "test",
                now=START - dt.timedelta(days=1))
        _take(home, None)
        _deliver_all(home)
    return one, chunked


@pytest.mark.parametrize(("chunk", "elsewhere"), [(3, False), (3, True), (1000, False)])
def test_chunks_record_what_one_at_a_time_records(two_homes, chunk, elsewhere):
    one, chunked = two_homes
    alone, together = _take(one, None), _take(chunked, chunk, elsewhere)
    assert together == alone
    statuses = [status for _, status in alone]
    assert {"accepted", "accepted with warnings", "rejected", "duplicate"} <= set(statuses)
    comparison = compare_warehouses(one / "warehouse.duckdb", chunked / "warehouse.duckdb",
                                    schemas=("raw", "audit", "quarantine", "staging"))
    assert comparison.equal, comparison.report()
    assert _archive(one) == _archive(chunked) and len(_archive(one)) == len(alone) + 1
    assert pending(chunked) == [] and pending(one) == []
    in_force = query(chunked, "SELECT notify_services_live FROM staging.department_returns "
                              "WHERE organisation_code = 'D10' AND reporting_quarter = '2025-26 Q2'")
    assert in_force == [(31,)]  # the correction sent again last is in force
    resent = query(chunked, "SELECT summary FROM audit.return_submissions WHERE file_name = "
                            "'d10-q2-first-resent.csv'")[0][0]
    assert "its figures are the return in force again" in resent


def test_entries_refused_unread_are_recorded_alike(two_homes):
    """A hidden file and a file outside any organisation's folder: refused unread in a chunk as alone. (Their
    references come from where and when each landed, so they differ between the homes: compared without them.)"""
    for home in two_homes:
        (returns_inbox_dir(home) / "D10" / ".hidden.csv").write_bytes(b"x")
        (returns_inbox_dir(home) / "stray.csv").write_bytes(b"y")
    one, chunked = two_homes
    assert [s for _, s in _take(chunked, 4)] == [s for _, s in _take(one, None)]
    sql = ("SELECT s.file_name, s.status, s.summary, p.rule, p.message, s.archived_as FROM audit.return_submissions s "
           "JOIN quarantine.return_problems p USING (submission_ref) WHERE p.rule = 'not_read' ORDER BY 1")
    refused = query(chunked, sql)
    assert refused == query(one, sql) and [r[0] for r in refused] == [".hidden.csv", "stray.csv"]
    assert pending(chunked) == []


def test_a_chunk_recorded_but_not_archived_is_finished_by_the_next_run(two_homes):
    """A run killed after the chunk's commit and before its moves: the next finds each entry recorded and moves
    it where its record says, once."""
    _, home = two_homes
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(returns, "archive_all", lambda *args, **kwargs: None)  # killed before any move
        first = _take(home, 1000)
    assert len(pending(home)) == len(first)
    second = _take(home, 1000)
    assert second == first  # each entry's recorded outcome, not a second judgement
    assert pending(home) == []
    counted = query(home, "SELECT count(*), count(DISTINCT submission_ref) FROM audit.return_submissions")
    assert counted[0][0] == counted[0][1]


def test_a_chunk_that_cannot_be_written_is_taken_one_by_one(two_homes, monkeypatch):
    one, chunked = two_homes
    monkeypatch.setattr(returns, "_record_chunk", lambda *args: (_ for _ in ()).throw(RuntimeError("disk full")))
    assert _take(chunked, 1000) == _take(one, None)
    comparison = compare_warehouses(one / "warehouse.duckdb", chunked / "warehouse.duckdb",
                                    schemas=("raw", "audit", "quarantine", "staging"))
    assert comparison.equal, comparison.report()


def test_accepted_rows_are_stacked_in_order_from_their_batches_and_alone():
    """Files checked in two batches and one checked alone: each file's own rows and columns, in the order given,
    typed as checked; the same as stacking each file's frame."""
    import pandas as pd

    from checks.return_validation import validate_return, validate_returns

    known, as_of = {"D10", "EA73", "EA74"}, dt.date(2026, 3, 1)

    def files(codes: list[str], live: int) -> list[tuple[bytes, str, str]]:
        return [(_figures(code, "2025-26 Q2", live + i), f"{code}.csv", code) for i, code in enumerate(codes)]

    first, second = validate_returns(files(["D10", "EA73"], 10), known, as_of), validate_returns(
        files(["EA74", "D10"], 20), known, as_of)
    alone = validate_return(*files(["EA73"], 30)[0][:2], known, as_of, submitter="EA73")  # a batch of one
    unplaced = validate_return(*files(["EA74"], 40)[0][:2], known, as_of, submitter="EA74")
    unplaced.batch_rows, unplaced.returns = None, unplaced.returns  # rows whose batch is not known: its own frame
    assert all(r.batch_rows is not None for r in [*first, *second, alone])
    order = [second[1], first[0], alone, first[1], unplaced, second[0]]  # batches interleaved, files alone
    accepted = [returns._Accepted(report, {"submission_ref": f"R{i}", "received_at": dt.datetime(2026, 1, 1, i),
                                           "is_illustrative": i % 2 == 0}) for i, report in enumerate(order)]
    got = returns.stacked(accepted)
    assert [(a.key(), a.size()) for a in accepted] == [((code, "2025-26 Q2"), 1) for code in
                                                       ["D10", "D10", "EA73", "EA73", "EA74", "EA74"]]
    assert all(r._returns is None for r in [*first, *second, alone])  # no file's own frame was made
    one_by_one = pd.concat([a.report.returns.assign(**a.columns) for a in accepted], ignore_index=True)
    assert got["notify_services_live"].tolist() == [21, 10, 30, 11, 40, 20]
    assert got["submission_ref"].tolist() == ["R0", "R1", "R2", "R3", "R4", "R5"]
    pd.testing.assert_frame_equal(got, one_by_one, check_dtype=False)
    assert got["notify_services_live"].dtype == "Int64" and got.index.tolist() == list(range(6))
    assert returns.stacked(accepted[4:5])["notify_services_live"].tolist() == [40]


def test_the_run_checks_its_chunks_in_a_process_of_its_own_and_records_the_same(two_homes, monkeypatch):
    """The returns asset, with more files than one chunk holds, has the next chunk checked in the judge's own process
    while it records the one before, and archives each chunk in a thread: what it records and archives is what one
    chunk checked in the run's own process records."""
    from checks.return_checking_process import CheckingProcess
    from tests.conftest import ingest

    one, chunked = two_homes
    ingest(one)
    answered = []
    real_answer = CheckingProcess.answer
    monkeypatch.setattr(CheckingProcess, "answer", lambda self: answered.append(real_answer(self)) or answered[-1])
    monkeypatch.setenv("TRACKER_RETURNS_CHUNK", "3")
    with dg.instance_for_test() as instance:
        run = ingest(chunked, instance=instance)
        said = [entry.user_message for entry in instance.all_logs(run.run_id)
                if entry.user_message.startswith("Return files ")]
    assert len(answered) >= 5 and all(reports is not None for reports in answered)  # every chunk but the first two
    # a line a chunk, counting its outcomes and naming each file not accepted, with its reference and sender
    not_accepted = query(chunked, "SELECT submission_ref, file_name, organisation_code, status FROM "
                                  "audit.return_submissions WHERE NOT starts_with(status, 'accepted')")
    spans = [tuple(int(n) for n in re.match(r"Return files (\d+) to (\d+) of (\d+):", m).groups()) for m in said]
    assert [(first, last) for first, last, _n in spans] == [(n, min(n + 2, spans[0][2]))
                                                           for n in range(1, spans[0][2] + 1, 3)]
    assert not_accepted
    assert sorted(line.strip() for message in said for line in message.splitlines()[1:]) == sorted(
        f"{ref} {name} from {code}: {status}" for ref, name, code, status in not_accepted)
    comparison = compare_warehouses(one / "warehouse.duckdb", chunked / "warehouse.duckdb",
                                    schemas=("raw", "audit", "quarantine", "staging"))
    assert comparison.equal, comparison.report()
    assert _archive(one) == _archive(chunked) and pending(chunked) == [] and pending(one) == []


@pytest.mark.parametrize(("value", "size"), [(None, 2000), ("", 2000), ("3", 3), (" 40 ", 40), ("0", 2000),
                                             ("-5", 2000), ("2.5", 2000), ("many", 2000)])
def test_the_chunk_size_is_a_whole_number_of_files_or_the_default(monkeypatch, value, size):
    from tracker.settings import RETURNS_CHUNK, returns_chunk

    if value is None:
        monkeypatch.delenv("TRACKER_RETURNS_CHUNK", raising=False)
    else:
        monkeypatch.setenv("TRACKER_RETURNS_CHUNK", value)
    assert RETURNS_CHUNK == 2000 and returns_chunk() == size
