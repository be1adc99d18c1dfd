"""The upload journey's decisions, without a browser: who may check and send what, the same messages as
`tracker validate`, the organisation always the one the sign-in allows, and failed attempts slowed down."""

from __future__ import annotations

import json
import time

import pytest

from checks.return_templates import csv_template, xlsx_template
from checks.return_validation import validate_return
from dashboard import submission
from dashboard.submission import Attempts, NotAllowed, SlowDown, check_upload, send
from tests.returns_helpers import AS_OF, KNOWN, csv_bytes, row, xlsx_bytes
from tracker.access import ADMINISTRATOR, ANALYST, SUBMITTER, Viewer
from tracker.return_inbox import pending

DWP = Viewer(signed_in=True, identity="dwp.returns@example.com", role=SUBMITTER, organisations=frozenset({"D10"}))
HOME_OFFICE = Viewer(signed_in=True, identity="ho.returns@example.com", role=SUBMITTER,
                     organisations=frozenset({"D16"}))
ANALYST_VIEWER = Viewer(signed_in=True, identity="analyst@example.com", role=ANALYST)
ADMIN = Viewer(signed_in=True, identity="admin@example.com", role=ADMINISTRATOR)
NAMES = {code: f"Organisation {code}" for code in KNOWN}


@pytest.fixture(autouse=True)
def fresh_attempts(monkeypatch):
    monkeypatch.setattr(submission, "ATTEMPTS", Attempts())


def test_a_valid_return_is_checked_with_the_commands_rules_and_sent_to_the_inbox(tmp_path):
    checked = check_upload(DWP, "D10", "2025-26 Q3", "q3.csv", csv_bytes(row()), NAMES, AS_OF)
    assert checked.problems == () and checked.figures["pay_services_live"] == 8
    stored = send(DWP, checked, tmp_path)
    [waiting] = pending(tmp_path)
    assert waiting.reference == stored.reference and waiting.organisation_code == "D10"
    assert waiting.channel == "upload page" and waiting.sender == "dwp.returns@example.com"
    assert waiting.declared_quarter == "2025-26 Q3" and waiting.on_behalf_reason is None
    assert waiting.read() == csv_bytes(row())  # byte for byte
    sidecar = json.loads(waiting.path.with_name(waiting.path.name + ".json").read_text())
    assert sidecar["sha256"] == checked.sha256 and sidecar["sender"] == "dwp.returns@example.com"


def test_the_page_says_exactly_what_tracker_validate_says(tmp_path):
    content = csv_bytes(row(pay_services_live="25", forms_online="abc"))
    checked = check_upload(DWP, "D10", "2025-26 Q3", "bad.csv", content, NAMES, AS_OF)
    command = validate_return(content, "bad.csv", NAMES, AS_OF, submitter="D10")
    assert [p.describe() for p in checked.problems] == [p.describe() for p in command.problems]
    assert len(checked.problems) >= 2 and any("column" in p.describe() for p in checked.problems)
    with pytest.raises(NotAllowed, match="has problems"):
        send(DWP, checked, tmp_path)
    assert pending(tmp_path) == []


@pytest.mark.parametrize("organisation", ["D16", "D18", "d10", "D10 ", "", "../D10", "*"])
def test_a_submitter_cannot_check_or_send_for_another_organisation(tmp_path, organisation):
    with pytest.raises(NotAllowed, match="only send returns for your own organisation"):
        check_upload(DWP, organisation, "2025-26 Q3", "x.csv", csv_bytes(row(organisation_code="D16")), NAMES,
                     AS_OF)
    assert pending(tmp_path) == []


def test_an_organisation_code_in_the_file_is_not_taken_as_the_sender(tmp_path):
    checked = check_upload(DWP, "D10", "2025-26 Q3", "x.csv", csv_bytes(row(organisation_code="D16")), NAMES, AS_OF)
    assert [p.rule for p in checked.problems] == ["submitter_matches"]
    assert "sent by D10" in checked.problems[0].describe()


def test_a_checked_return_cannot_be_sent_by_someone_else_or_redirected(tmp_path):
    checked = check_upload(DWP, "D10", "2025-26 Q3", "x.csv", csv_bytes(row()), NAMES, AS_OF)
    with pytest.raises(NotAllowed):
        send(HOME_OFFICE, checked, tmp_path)  # the session's state handed to another person
    tampered = submission.Checked("D16", checked.quarter, checked.file_name, checked.content, checked.report, ())
    with pytest.raises(NotAllowed):
        send(DWP, tampered, tmp_path)  # the organisation changed after the check
    assert pending(tmp_path) == []


def test_an_analyst_cannot_submit(tmp_path):
    with pytest.raises(NotAllowed, match="not send returns"):
        check_upload(ANALYST_VIEWER, "D10", "2025-26 Q3", "x.csv", csv_bytes(row()), NAMES, AS_OF)


def test_an_administrator_sends_for_a_department_only_with_a_reason(tmp_path):
    checked = check_upload(ADMIN, "D16", "2025-26 Q3", "x.csv", csv_bytes(row(organisation_code="D16")), NAMES,
                           AS_OF)
    assert checked.problems == ()
    with pytest.raises(NotAllowed, match="Say why"):
        send(ADMIN, checked, tmp_path, reason="  ")
    stored = send(ADMIN, checked, tmp_path, reason="Asked by the Home Office returns team, 2 Dec")
    [waiting] = pending(tmp_path)
    assert waiting.reference == stored.reference and waiting.organisation_code == "D16"
    assert waiting.sender == "admin@example.com"
    assert waiting.on_behalf_reason == "Asked by the Home Office returns team, 2 Dec"


def test_the_file_must_be_for_the_quarter_chosen():
    checked = check_upload(DWP, "D10", "2025-26 Q2", "x.csv", csv_bytes(row()), NAMES, AS_OF)
    [problem] = checked.problems
    assert problem.rule == "quarter_matches" and "you chose 2025-26 Q2" in problem.describe()
    assert problem.describe().startswith("Row 2, column B (reporting_quarter)")


@pytest.mark.parametrize("name, content, says", [
    ("return.pdf", b"%PDF-1.4", "must be a CSV or an Excel workbook"),
    ("return", b"a,b", "must be a CSV or an Excel workbook"),
    ("return.xlsm", b"PK", "must be a CSV or an Excel workbook"),
    ("return.csv", b"", "is empty"),
    ("return.csv", b"x" * (2 * 1024 * 1024 + 1), "must be smaller than 2 MB"),
    ("return.xlsx", b"not a zip at all", "The file"),
])
def test_files_that_are_not_returns_get_one_plain_problem(name, content, says):
    checked = check_upload(DWP, "D10", "2025-26 Q3", name, content, NAMES, AS_OF)
    assert checked.problems and says in checked.problems[0].describe()


def test_a_hostile_file_name_never_becomes_a_path(tmp_path):
    name = "../../<img src=x onerror=alert(1)>[x](http://evil.example)\x00.csv"
    checked = check_upload(DWP, "D10", "2025-26 Q3", name, csv_bytes(row()), NAMES, AS_OF)
    assert checked.problems == ()
    stored = send(DWP, checked, tmp_path)
    assert stored.path.parent == tmp_path / "returns" / "inbox" / "D10"
    assert "/" not in stored.path.name and ".." not in stored.path.name.split("__", 1)[1].split("_")[0]


def test_the_prefilled_templates_carry_the_organisation_and_quarter():
    lines = csv_template("D10", "2025-26 Q3").splitlines()
    assert lines[1].startswith("D10,2025-26 Q3,") and lines[1].count(",") == lines[0].count(",")
    import io

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx_template([("D10", "DWP")], AS_OF, "D10", "2025-26 Q3")))["Return"]
    assert (sheet["A2"].value, sheet["B2"].value, sheet["C2"].value) == ("D10", "2025-26 Q3", None)


def test_an_excel_return_goes_the_same_way(tmp_path):
    checked = check_upload(DWP, "D10", "2025-26 Q3", "q3.xlsx", xlsx_bytes(row()), NAMES, AS_OF)
    assert checked.problems == () and checked.figures["notify_services_live"] == 39


def test_repeated_failed_attempts_are_slowed_down_per_person():
    bad = csv_bytes(row(pay_services_live="abc"))
    for _ in range(submission.FAILED_ATTEMPTS_LIMIT):
        assert check_upload(DWP, "D10", "2025-26 Q3", "bad.csv", bad, NAMES, AS_OF).problems
    with pytest.raises(SlowDown, match="Wait"):
        check_upload(DWP, "D10", "2025-26 Q3", "good.csv", csv_bytes(row()), NAMES, AS_OF)
    # someone else is not slowed down by it
    assert check_upload(ADMIN, "D10", "2025-26 Q3", "good.csv", csv_bytes(row()), NAMES, AS_OF).problems == ()


def test_refused_requests_count_as_failed_attempts():
    for _ in range(submission.FAILED_ATTEMPTS_LIMIT):
        with pytest.raises(NotAllowed):
            submission.authorise(DWP, "D16")
    with pytest.raises(SlowDown):
        submission.authorise(DWP, "D10")


def test_the_slow_down_ends_after_its_window():
    attempts = Attempts(limit=2)
    start = time.monotonic()
    attempts.failed("a", start)
    attempts.failed("a", start + 1)
    with pytest.raises(SlowDown, match="Wait 15 minutes"):
        attempts.check("a", start + 2)
    attempts.check("a", start + attempts.window.total_seconds() + 2)  # both have aged out
