"""Great Expectations in a process started ahead of need: the same answers as in the asking process, and no
process left behind whatever happens to it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from checks import return_gx_process
from checks.return_contract import COLUMNS, COUNT, NUMBER
from checks.return_gx_process import CheckedReturns, GxProcess, start_ahead, stop_ahead, validate_accepted
from tests.conftest import PROJECT, ingest, query
from tests.returns_helpers import AS_OF, KNOWN, VALID, csv_bytes, row
from tests.test_contract_passes import _passed_references, contract_check
from tests.test_return_parity import typed
from tracker.return_inbox import deliver


def accepted(*records: dict) -> pd.DataFrame:
    """Accepted rows as the returns asset reads them back (``assets.returns.unchecked_accepted``)."""
    rows = pd.DataFrame([{"_reference": f"R-{i}", "_sender": "D10", **r} for i, r in enumerate(records, start=1)])
    return rows.astype({**{c.name: "Int64" for c in COLUMNS if c.kind == COUNT},
                        **{c.name: "float64" for c in COLUMNS if c.kind == NUMBER}})


ROWS = accepted(typed(), typed(pay_transactions=None), typed(organisation_code="ZZ99"))


@pytest.fixture(autouse=True)
def nothing_started_ahead():
    stop_ahead()
    yield
    stop_ahead()


def _ended(process: subprocess.Popen, within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return process.poll() is not None


def test_the_process_answers_as_the_asking_process_would():
    from checks.return_gx import validate_accepted as validate_here

    here = validate_here(ROWS, KNOWN, AS_OF).checked()
    worker = GxProcess()
    try:
        there = worker.validate_accepted(ROWS, KNOWN, AS_OF)
        again = worker.validate_accepted(ROWS.iloc[:1], KNOWN, AS_OF)  # it serves until its input closes
    finally:
        worker.close()
    assert isinstance(there, CheckedReturns)
    assert there.per_return == here.per_return
    assert there.passed == here.passed == []  # a critical failure (R-3's unknown code): none is vouched for
    assert there.failed_lines == here.failed_lines and len(there.failed_lines) >= 2  # a warning and an unknown code
    assert there.evaluated == here.evaluated > 0 and there.disagreements == here.disagreements == []
    assert there.error is None and json.dumps(there.per_return)  # JSON-ready, as the audit table keeps it
    assert list(again.per_return) == ["R-1"] and again.per_return["R-1"]["failed"] == []
    assert worker.process.returncode == 0  # ended when its input closed


def test_started_ahead_only_for_an_inbox_holding_files_and_used_once(tmp_path):
    inbox = tmp_path / "inbox"
    start_ahead(inbox)  # no inbox at all
    (inbox / "D10").mkdir(parents=True)
    start_ahead(inbox)  # folders, but nothing in them
    assert return_gx_process._ahead is None
    (inbox / "D10" / "return.csv").write_bytes(csv_bytes(VALID))
    start_ahead(inbox)
    worker = return_gx_process._ahead
    assert worker is not None
    start_ahead(inbox)
    assert return_gx_process._ahead is worker  # one process, not one per call
    checked = validate_accepted(ROWS.iloc[:1], KNOWN, AS_OF)
    assert return_gx_process._ahead is None and _ended(worker.process)  # used once, then ended
    assert checked.per_return["R-1"]["failed"] == [] and checked.passed == ["R-1"]
    here = validate_accepted(ROWS.iloc[:1], KNOWN, AS_OF)  # and then here, the same
    assert (here.per_return, here.passed, here.evaluated) == (checked.per_return, checked.passed, checked.evaluated)


def test_a_process_that_has_gone_leaves_the_work_to_the_asking_process(tmp_path):
    (tmp_path / "r.csv").write_text("x")
    start_ahead(tmp_path)
    worker = return_gx_process._ahead
    worker.process.send_signal(signal.SIGKILL)
    assert _ended(worker.process)
    checked = validate_accepted(ROWS, KNOWN, AS_OF)
    assert sorted(checked.per_return) == ["R-1", "R-2", "R-3"] and checked.error is None
    assert return_gx_process._ahead is None


def test_an_error_in_the_process_is_raised_in_the_asking_one():
    worker = GxProcess()
    try:
        with pytest.raises(KeyError):
            worker.validate_accepted(ROWS.drop(columns=["_sender"]), KNOWN, AS_OF)
        assert worker.validate_accepted(ROWS.iloc[:1], KNOWN, AS_OF).passed == ["R-1"]  # and it still answers
    finally:
        worker.close()


def test_a_parent_killed_mid_run_leaves_no_process_behind(tmp_path):
    """The process ends when its input closes, which a killed parent's does."""
    pid_file = tmp_path / "pid"
    parent = subprocess.Popen([sys.executable, "-c", (
        "import pathlib, sys, time\n"
        "from checks.return_gx_process import GxProcess\n"
        f"pathlib.Path({str(pid_file)!r}).write_text(str(GxProcess().process.pid))\n"
        "time.sleep(60)\n")], cwd=return_gx_process.Path(return_gx_process.__file__).parent.parent)
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and parent.poll() is None
        time.sleep(0.05)
    child = int(pid_file.read_text())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 30
    while _alive(child):
        assert time.monotonic() < deadline, "the process outlived its parent"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = open(f"/proc/{pid}/stat").read()  # a zombie (ended, not yet reaped by init) has ended
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_ingestion_with_the_process_started_ahead_keeps_the_same_results(returns_home):
    """The returns asset hands the accepted rows over and goes on; the blocking contract check, which runs before
    any mart, records what GX found, as ingestion would have."""
    clean = deliver(returns_home, csv_bytes(VALID), "d10.csv", "D10", "test")
    warned = deliver(returns_home, csv_bytes(row(organisation_code="EA73", pay_transactions="")), "ea73.csv", "EA73",
                     "test")
    start_ahead(returns_home / "returns" / "inbox")
    worker = return_gx_process._ahead
    assert worker is not None
    result = ingest(returns_home)
    assert result.success and return_gx_process._ahead is None
    handed = next(e for e in result.get_asset_materialization_events()
                  if e.asset_key.to_user_string() == "audit/return_submissions").materialization.metadata
    assert handed["great expectations: returns handed to its process"].value == 2
    assert query(returns_home, "SELECT count(*) FROM audit.return_submissions WHERE gx_result IS NULL") == [(2,)]
    check = contract_check(returns_home)
    assert _ended(worker.process) and return_gx_process.take_pending() is None  # it was the one used, once
    assert check.passed and check.metadata["great expectations: returns validated"].value == 2
    assert check.metadata["returns checked"].value == 0  # recorded as passed first: not validated again
    kept = {ref: json.loads(gx) for ref, gx in query(
        returns_home, "SELECT submission_ref, gx_result FROM audit.return_submissions")}
    assert kept[clean.reference]["failed"] == [] and kept[clean.reference]["agrees_with_native"] is True
    assert [f["rule"] for f in kept[warned.reference]["failed"]] == ["transactions_missing"]
    assert {clean.reference, warned.reference} <= _passed_references(returns_home)


def test_rows_handed_over_whose_answer_nobody_took_are_validated_by_the_next_run(returns_home):
    """A run that ends before its contract check (killed, or a job without it) leaves those returns with no GX
    result, and its process ended; the next run's returns asset finds and validates them."""
    sent = deliver(returns_home, csv_bytes(VALID), "d10.csv", "D10", "test")
    start_ahead(returns_home / "returns" / "inbox")
    worker = return_gx_process._ahead
    assert ingest(returns_home).success and return_gx_process._pending is not None
    stop_ahead()
    assert _ended(worker.process) and return_gx_process.take_pending() is None
    assert query(returns_home, "SELECT gx_result FROM audit.return_submissions") == [(None,)]
    later = deliver(returns_home, csv_bytes(row(organisation_code="EA73")), "ea73.csv", "EA73", "test")
    assert ingest(returns_home).success  # no process ahead: validated here, the earlier return with it
    kept = dict(query(returns_home, "SELECT submission_ref, gx_result->>'agrees_with_native' "
                                    "FROM audit.return_submissions"))
    assert kept == {sent.reference: "true", later.reference: "true"}


def test_a_process_gone_after_the_hand_over_leaves_the_work_to_the_check(returns_home):
    sent = deliver(returns_home, csv_bytes(row(pay_transactions="")), "d10.csv", "D10", "test")
    start_ahead(returns_home / "returns" / "inbox")
    assert ingest(returns_home).success
    return_gx_process._pending.process.process.kill()
    check = contract_check(returns_home)
    assert check.passed and check.metadata["great expectations: returns validated"].value == 1
    kept = dict(query(returns_home, "SELECT submission_ref, gx_result FROM audit.return_submissions"))
    assert [f["rule"] for f in json.loads(kept[sent.reference])["failed"]] == ["transactions_missing"]


def test_it_says_once_it_has_imported_gx_and_that_is_never_taken_for_an_answer():
    from checks.return_gx import validate_accepted as validate_here

    return_gx_process.wait_until_imported()  # none started: at once
    here = validate_here(ROWS, KNOWN, AS_OF).checked()
    for waited in ("until imported", "not at all", "a moment"):
        worker = GxProcess()
        try:
            if waited == "until imported":
                worker.wait_imported()
                assert worker._told_imported
            elif waited == "a moment":
                worker.wait_imported(within=0)  # still importing, most likely: the request reads it itself
            assert worker.validate_accepted(ROWS, KNOWN, AS_OF).per_return == here.per_return
            assert worker.validate_accepted(ROWS.iloc[:1], KNOWN, AS_OF).per_return == \
                {"R-1": here.per_return["R-1"]}
        finally:
            worker.close()


def test_waiting_for_a_process_that_has_gone_ends(tmp_path):
    (tmp_path / "D10").mkdir()
    (tmp_path / "D10" / "return.csv").write_bytes(csv_bytes(row()))
    start_ahead(tmp_path)
    worker = return_gx_process._ahead
    worker.process.kill()
    return_gx_process.wait_until_imported()  # returns: it has ended
    assert worker._told_imported and validate_accepted(ROWS, KNOWN, AS_OF).per_return  # done here instead
    assert return_gx_process._ahead is None


def test_its_imports_are_frozen_before_it_answers_so_no_collection_walks_them():
    """GX's modules live as long as the process: a full collection walking them took 0.65 s of a national
    validation. ``serve`` freezes them before its first answer (here with no request: the input at its end), in a
    process of its own, as it runs, so this test's own collector is left as it was."""
    code = ("import gc, io, pickle; from checks import return_gx_process as p; answers = io.BytesIO(); "
            "p.serve(io.BytesIO(), answers); print(gc.get_freeze_count(), pickle.loads(answers.getvalue()))")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    frozen, said = done.stdout.split()[-2:]
    assert int(frozen) > 0
    assert said == return_gx_process.IMPORTED
