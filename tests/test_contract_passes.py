"""A return is validated by Great Expectations once (issue 17): the rows the ingestion's GX run passed are recorded
as passed, and the blocking check validates only the rest, with nothing it used to find now missed."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from checks.contract_passes import PASSED_TABLE, ROW_HASH, contract_stamp, passed_before, record_returns_passed
from tests.conftest import ingest, make_resources, query
from tests.returns_helpers import AS_OF, VALID, csv_bytes, row
from tracker.return_inbox import deliver
from tracker.warehouse import organisation_codes


def contract_check(home: Path, as_of: str = AS_OF.isoformat()) -> dg.AssetCheckResult:
    from checks.return_checks import department_returns_meet_contract

    resources = make_resources(home, as_of=as_of)
    return department_returns_meet_contract(settings=resources["settings"], warehouse=resources["warehouse"])


def contract_check_without_passes(built_home: Path, tmp_path: Path) -> dg.AssetCheckResult:
    """The blocking check on a copy of a built warehouse with no row recorded as passed: it validates them all."""
    home = tmp_path / "without-passes"
    home.mkdir()
    shutil.copy(built_home / "warehouse.duckdb", home / "warehouse.duckdb")
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute(f"DROP TABLE IF EXISTS {PASSED_TABLE}")
    return contract_check(home)


def _passed_references(home: Path) -> set[str]:
    """The returns in force whose rows are recorded as passed under the stamp of the moment."""
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        stamp = contract_stamp(organisation_codes(con), AS_OF)
        con.register("_passed", passed_before(con, stamp))
        return {ref for (ref,) in con.execute(
            f"SELECT submission_ref FROM staging.department_returns d WHERE {ROW_HASH} IN "
            "(SELECT _row_sha256 FROM _passed)").fetchall()}


def test_returns_passed_on_arrival_are_not_validated_again(returns_home):
    good = deliver(returns_home, csv_bytes(VALID), "d10.csv", "D10", "test")
    warned = deliver(returns_home, csv_bytes(row(organisation_code="EA73", pay_transactions="")), "ea73.csv", "EA73",
                     "test")
    rejected = deliver(returns_home, csv_bytes(row(organisation_code="EA74", pay_services_live="-4")), "ea74.csv",
                       "EA74", "test")
    assert ingest(returns_home).success
    statuses = dict(query(returns_home, "SELECT submission_ref, status FROM audit.return_submissions"))
    assert statuses == {good.reference: "accepted", warned.reference: "accepted with warnings",
                        rejected.reference: "rejected"}
    # a warning is not a failure: both accepted returns stand passed, the rejected one has no row to pass
    assert _passed_references(returns_home) == {good.reference, warned.reference}
    check = contract_check(returns_home)
    assert check.passed and check.metadata["returns checked"].value == 0
    assert check.metadata["returns passed before, unchanged"].value == 2
    # another reporting date is another stamp: every return is validated again
    assert contract_check(returns_home, "2026-02-28").metadata["returns checked"].value == 2


def test_a_return_gx_could_not_validate_is_validated_by_the_check(returns_home, monkeypatch):
    import checks.return_gx as return_gx

    real = return_gx.run_suite
    monkeypatch.setattr(return_gx, "run_suite", lambda *a, **k: (_ for _ in ()).throw(ValueError("no such metric")))
    deliver(returns_home, csv_bytes(VALID), "d10.csv", "D10", "test")
    assert ingest(returns_home).success
    assert _passed_references(returns_home) == set()
    monkeypatch.setattr(return_gx, "run_suite", real)
    check = contract_check(returns_home)
    assert check.passed and check.metadata["returns checked"].value == 1


def test_a_row_changed_after_it_passed_on_arrival_is_validated_and_fails(returns_home):
    sent = deliver(returns_home, csv_bytes(VALID), "d10.csv", "D10", "test")
    assert ingest(returns_home).success
    with duckdb.connect(str(returns_home / "warehouse.duckdb")) as con:
        con.execute("UPDATE staging.department_returns SET pay_services_live = -5 WHERE submission_ref = ?",
                    [sent.reference])
    check = contract_check(returns_home)
    assert not check.passed and check.metadata["returns checked"].value == 1
    assert check.metadata["problems"].value >= 1


def test_no_second_row_for_an_organisation_and_quarter_can_hide_behind_passes(returns_home):
    """The suite's one-return-per-row rule compares rows: passes recorded a return at a time rely on the table's
    key to refuse a second row for the same organisation and quarter (a bug in the delete-then-insert)."""
    sent = deliver(returns_home, csv_bytes(VALID), "d10.csv", "D10", "test")
    assert ingest(returns_home).success
    with duckdb.connect(str(returns_home / "warehouse.duckdb")) as con, pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO staging.department_returns SELECT * REPLACE ('R-copy' AS submission_ref) "
                    "FROM staging.department_returns WHERE submission_ref = ?", [sent.reference])


def test_only_returns_in_force_are_recorded(returns_home):
    with duckdb.connect(str(returns_home / "warehouse.duckdb")) as con:
        assert record_returns_passed(con, "stamp", []) == 0
    first = deliver(returns_home, csv_bytes(VALID), "d10.csv", "D10", "test")
    assert ingest(returns_home).success
    corrected = deliver(returns_home, csv_bytes(row(pay_services_live="9")), "d10-corrected.csv", "D10", "test")
    assert ingest(returns_home).success
    assert _passed_references(returns_home) == {corrected.reference}
    with duckdb.connect(str(returns_home / "warehouse.duckdb")) as con:
        assert record_returns_passed(con, "stamp", [first.reference, "R-never-sent"]) == 0  # not in force


def test_the_stamp_changes_with_everything_a_verdict_depends_on(monkeypatch):
    import checks.contract_passes as passes

    known = {"D10", "EA73"}
    stamp = contract_stamp(known, AS_OF)
    assert contract_stamp(set(known), AS_OF) == stamp
    assert contract_stamp(known | {"D16"}, AS_OF) != stamp
    assert contract_stamp(known, AS_OF.replace(day=30)) != stamp
    monkeypatch.setattr(passes, "first_quarter", lambda: "2010-11 Q1")  # the schedule widened
    assert contract_stamp(known, AS_OF) != stamp
    monkeypatch.undo()
    monkeypatch.setattr(passes, "version", lambda package: "0.0.1")  # another Great Expectations
    assert contract_stamp(known, AS_OF) != stamp


def test_no_return_is_vouched_for_by_a_gx_run_with_a_critical_failure():
    from checks.return_gx import AcceptedValidation

    class Run:
        passed = False

    clean = {"failed": []}
    assert AcceptedValidation(Run(), {"R-1": clean}, []).passed_references() == []
    Run.passed = True
    warned = {"failed": [{"severity": "warning"}]}
    critical = {"failed": [{"severity": "critical"}]}
    assert AcceptedValidation(Run(), {"R-1": clean, "R-2": warned, "R-3": critical}, []).passed_references() == [
        "R-1", "R-2"]
    assert AcceptedValidation(None, {"R-1": clean}, [], "no such metric").passed_references() == []
