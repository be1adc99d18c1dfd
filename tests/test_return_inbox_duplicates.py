"""Duplicates mean "the same return already counts": only the same organisation's identical bytes, already its
return in force, are a duplicate; every other arrival is processed and recorded on its own."""

from __future__ import annotations

import datetime as dt

from tests.conftest import ingest, query
from tests.returns_helpers import VALID, csv_bytes, row
from tracker.return_inbox import deliver

FIRST = csv_bytes(row(pay_services_live="1"))
SECOND = csv_bytes(VALID)


def at(minutes: int) -> dt.datetime:
    return dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)


def outcome(home, stored) -> tuple[str, str, str | None]:
    return query(home, "SELECT status, summary, duplicate_of FROM audit.return_submissions WHERE submission_ref = ?",
                 [stored.reference])[0]


def in_force(home) -> list[tuple]:
    return query(home, "SELECT organisation_code, reporting_quarter, submission_ref FROM staging.department_returns "
                 "ORDER BY 1, 2")


def test_the_same_bytes_as_the_return_in_force_are_a_duplicate(returns_home):
    first = deliver(returns_home, SECOND, "q3.csv", "D10", "test", now=at(0))
    again = deliver(returns_home, SECOND, "q3-again.csv", "D10", "test", now=at(5))
    assert ingest(returns_home).success
    status, summary, duplicate_of = outcome(returns_home, again)
    assert (status, duplicate_of) == ("duplicate", first.reference)
    assert "return in force" in summary and "2025-26 Q3" in summary
    assert in_force(returns_home) == [("D10", "2025-26 Q3", first.reference)]


def test_the_same_bytes_from_another_organisation_are_judged_as_its_own_return(returns_home):
    mine = deliver(returns_home, SECOND, "q3.csv", "D10", "test", now=at(0))
    theirs = deliver(returns_home, SECOND, "q3.csv", "EA73", "test", now=at(5))
    assert ingest(returns_home).success
    assert outcome(returns_home, mine)[0] == "accepted"
    status, summary, duplicate_of = outcome(returns_home, theirs)
    assert status == "rejected" and duplicate_of is None  # EA73 sent D10's figures: said so, not "duplicate"
    assert query(returns_home, "SELECT rule FROM quarantine.return_problems WHERE submission_ref = ?",
                 [theirs.reference]) == [("submitter_matches",)]
    assert query(returns_home, "SELECT count(*) FROM raw.return_files") == [(1,)]  # the bytes are kept once


def test_bytes_sent_again_after_a_rejection_that_was_not_the_files_fault_are_taken(returns_home):
    wrong_folder = deliver(returns_home, SECOND, "q3.csv", "EA73", "test", now=at(0))  # the wrong sender
    assert ingest(returns_home).success
    assert outcome(returns_home, wrong_folder)[0] == "rejected"
    right = deliver(returns_home, SECOND, "q3.csv", "D10", "test", now=at(10))
    assert ingest(returns_home).success
    assert outcome(returns_home, right)[0] == "accepted"
    assert in_force(returns_home) == [("D10", "2025-26 Q3", right.reference)]


def test_a_rejected_file_sent_again_is_checked_again(returns_home):
    bad = csv_bytes(row(pay_services_live="99"))
    first = deliver(returns_home, bad, "q3.csv", "D10", "test", now=at(0))
    second = deliver(returns_home, bad, "q3.csv", "D10", "test", now=at(10))
    assert ingest(returns_home).success
    assert [outcome(returns_home, s)[0] for s in (first, second)] == ["rejected", "rejected"]
    assert query(returns_home, "SELECT count(DISTINCT submission_ref) FROM quarantine.return_problems") == [(2,)]


def test_an_earlier_return_sent_again_is_the_return_in_force_again(returns_home):
    first = deliver(returns_home, FIRST, "q3.csv", "D10", "test", now=at(0))
    corrected = deliver(returns_home, SECOND, "q3-corrected.csv", "D10", "test", now=at(10))
    assert ingest(returns_home).success
    assert in_force(returns_home) == [("D10", "2025-26 Q3", corrected.reference)]
    restored = deliver(returns_home, FIRST, "q3.csv", "D10", "test", now=at(20))  # "the first was right after all"
    assert ingest(returns_home).success
    status, summary, duplicate_of = outcome(returns_home, restored)
    assert status == "accepted" and duplicate_of is None
    assert first.reference in summary and "in force again" in summary  # the audit trail says so
    assert in_force(returns_home) == [("D10", "2025-26 Q3", restored.reference)]
    assert query(returns_home, "SELECT pay_services_live FROM staging.department_returns") == [(1,)]
    # and sending it once more, now that it is in force, is a duplicate
    once_more = deliver(returns_home, FIRST, "q3.csv", "D10", "test", now=at(30))
    assert ingest(returns_home).success
    assert outcome(returns_home, once_more)[0] == "duplicate"
    assert outcome(returns_home, once_more)[2] == restored.reference


def test_a_quarter_resent_while_another_quarter_is_in_force_is_not_a_duplicate(returns_home):
    q2 = csv_bytes(row(reporting_quarter="2025-26 Q2"))
    first = deliver(returns_home, q2, "q2.csv", "D10", "test", now=at(0))
    q3 = deliver(returns_home, SECOND, "q3.csv", "D10", "test", now=at(5))
    assert ingest(returns_home).success
    assert in_force(returns_home) == [("D10", "2025-26 Q2", first.reference), ("D10", "2025-26 Q3", q3.reference)]
