"""Email receipts through the real GOV.UK Notify client against a local stub of Notify's API."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from notifications_python_client.notifications import NotificationsAPIClient

from tests.notify_stub import NotifyStub, make_api_key
from tracker.receipts import (
    NotifySettings,
    notify_settings,
    notify_settings_from_file,
    queue_receipt,
    receipt_status,
    send_pending,
    uk_time,
)
from tracker.settings import receipts_dir

TEMPLATE = "9a3c4e1b-2f5d-4c6a-8b7e-0d1f2a3b4c5d"
RECEIVED = datetime(2026, 12, 3, 9, 15)  # UTC; GMT in December


@pytest.fixture
def api_key() -> str:
    return make_api_key()


@pytest.fixture
def stub(api_key):
    with NotifyStub(api_key, TEMPLATE) as running:
        yield running


@pytest.fixture
def settings(stub, api_key) -> NotifySettings:
    return NotifySettings(api_key=api_key, template_id=TEMPLATE, base_url=stub.url, timeout_seconds=2.0)


def queue(home: Path, reference: str = "R-0123456789", **overrides) -> Path:
    values = {
        "reference": reference,
        "email": "returns@cabinet-office.example.gov.uk",
        "organisation_name": "Cabinet Office",
        "organisation_code": "D2",
        "reporting_quarter": "2026-Q3",
        "received_at": RECEIVED,
        "sender": "alex.smith@cabinet-office.example.gov.uk",
    }
    values.update(overrides)
    return queue_receipt(home, **values)


def record(home: Path, folder: str, reference: str = "R-0123456789") -> dict:
    return json.loads((receipts_dir(home) / folder / f"{reference}.json").read_text())


def later(minutes: float) -> datetime:
    return datetime.utcnow() + timedelta(minutes=minutes)


def every_file_text(home: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in receipts_dir(home).rglob("*") if p.is_file())


# --- sending --------------------------------------------------------------------------------------


def test_a_queued_receipt_reaches_notify_with_the_template_address_personalisation_and_reference(
    tmp_path, stub, settings, api_key
):
    queue(tmp_path)
    assert receipt_status(tmp_path, "R-0123456789") == "pending"

    outcomes = send_pending(tmp_path, settings)

    assert [(o.reference, o.outcome) for o in outcomes] == [("R-0123456789", "sent")]
    (sent,) = stub.emails()
    assert sent.status == 201
    assert sent.body["template_id"] == TEMPLATE
    assert sent.body["email_address"] == "returns@cabinet-office.example.gov.uk"
    assert sent.body["reference"] == "R-0123456789"
    personalisation = sent.body["personalisation"]
    assert personalisation["reference"] == "R-0123456789"
    assert personalisation["organisation"] == "Cabinet Office (D2)"
    assert personalisation["quarter"] == "2026-Q3"
    assert personalisation["received"] == "3 December 2026 at 9:15am"
    assert "Your returns" in personalisation["next_steps"] and "\n" not in personalisation["next_steps"]
    assert sent.headers["User-agent"].startswith("NOTIFY-API-PYTHON-CLIENT/")
    assert "Authorization" not in sent.headers  # the stub keeps no token

    assert receipt_status(tmp_path, "R-0123456789") == "sent"
    done = record(tmp_path, "sent")
    assert done["notification_id"] == stub.notifications[0]["id"]
    assert done["attempts"] == 1 and done["history"][-1]["outcome"] == "sent"
    assert not list((receipts_dir(tmp_path) / "pending").iterdir())
    assert not list((receipts_dir(tmp_path) / "sending").iterdir())

    assert send_pending(tmp_path, settings, now=later(60 * 24)) == []  # never sent twice
    assert len(stub.emails()) == 1


def test_uk_time_follows_british_summer_time_and_twelve_hour_clock():
    assert uk_time(datetime(2026, 12, 3, 9, 15)) == "3 December 2026 at 9:15am"
    assert uk_time(datetime(2026, 7, 1, 8, 5)) == "1 July 2026 at 9:05am"  # BST
    assert uk_time(datetime(2026, 1, 1, 12, 0)) == "1 January 2026 at 12:00pm"
    assert uk_time(datetime(2026, 1, 1, 0, 30)) == "1 January 2026 at 12:30am"
    assert uk_time(datetime(2026, 3, 28, 23, 30)) == "28 March 2026 at 11:30pm"
    assert uk_time(datetime(2026, 6, 30, 23, 30)) == "1 July 2026 at 12:30am"  # BST moves the date


def test_receipts_are_sent_oldest_first(tmp_path, stub, settings):
    queue(tmp_path, "R-000000000B", received_at=RECEIVED + timedelta(minutes=5))
    queue(tmp_path, "R-000000000A", received_at=RECEIVED)
    queue(tmp_path, "R-000000000C", received_at=RECEIVED + timedelta(minutes=1))

    send_pending(tmp_path, settings)

    assert [r.body["reference"] for r in stub.emails()] == ["R-000000000A", "R-000000000C", "R-000000000B"]


# --- Notify down, failing or slow -----------------------------------------------------------------


def test_notify_down_leaves_the_receipt_pending_with_back_off_then_sends_it_once(tmp_path, stub, settings):
    queue(tmp_path)
    stub.stop()  # connection refused
    first = datetime.utcnow()

    (outcome,) = send_pending(tmp_path, settings, now=first)

    assert outcome.outcome == "will retry" and "Could not connect to Notify" in outcome.detail
    assert "1 minute" in outcome.detail
    assert receipt_status(tmp_path, "R-0123456789") == "pending"
    waiting = record(tmp_path, "pending")
    assert waiting["attempts"] == 1
    assert datetime.fromisoformat(waiting["next_attempt_at"]) == (first + timedelta(minutes=1)).replace(microsecond=0)
    assert waiting["history"][-1]["outcome"] == "will retry"

    stub.start()
    assert send_pending(tmp_path, settings, now=first + timedelta(seconds=30)) == []  # not due yet
    assert stub.emails() == []

    (outcome,) = send_pending(tmp_path, settings, now=first + timedelta(minutes=2))
    assert outcome.outcome == "sent"
    assert len(stub.emails()) == 1 and len(stub.notifications) == 1
    assert record(tmp_path, "sent")["attempts"] == 2
    assert send_pending(tmp_path, settings, now=first + timedelta(days=2)) == []
    assert len(stub.emails()) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_a_server_error_or_rate_limit_is_retried_later_and_then_sent_once(tmp_path, stub, settings, status):
    queue(tmp_path)
    stub.fail_next(1, status)

    (outcome,) = send_pending(tmp_path, settings)

    assert outcome.outcome == "will retry" and str(status) in outcome.detail
    waiting = record(tmp_path, "pending")
    assert waiting["attempts"] == 1 and str(status) in waiting["history"][-1]["detail"]

    (outcome,) = send_pending(tmp_path, settings, now=later(2))
    assert outcome.outcome == "sent"
    assert [r.status for r in stub.emails()] == [status, 201]
    assert len(stub.notifications) == 1


def test_a_timeout_is_retried_and_not_sent_twice_when_notify_had_accepted_it(tmp_path, stub, api_key):
    quick = NotifySettings(api_key=api_key, template_id=TEMPLATE, base_url=stub.url, timeout_seconds=0.5)
    queue(tmp_path)
    stub.delay_next(1, 1.5)  # Notify is slow: it accepts the email after we have stopped waiting

    (outcome,) = send_pending(tmp_path, quick)

    assert outcome.outcome == "will retry" and "did not answer within 0.5 seconds" in outcome.detail
    assert record(tmp_path, "pending")["attempts"] == 1
    deadline = time.monotonic() + 5
    while not stub.notifications and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(stub.notifications) == 1

    (outcome,) = send_pending(tmp_path, quick, now=later(2))

    assert outcome.outcome == "sent" and "already accepted" in outcome.detail
    assert len(stub.emails()) == 1  # asked Notify by reference instead of sending again
    assert record(tmp_path, "sent")["notification_id"] == stub.notifications[0]["id"]


def test_a_timeout_before_notify_accepted_is_sent_on_the_retry(tmp_path, stub, api_key):
    quick = NotifySettings(api_key=api_key, template_id=TEMPLATE, base_url=stub.url, timeout_seconds=0.3)
    queue(tmp_path)
    stub.fail_next(1, 500)  # slow and then failing: nothing was accepted
    stub._rules[-1].delay = 0.8

    (outcome,) = send_pending(tmp_path, quick)
    assert outcome.outcome == "will retry"
    time.sleep(0.7)

    (outcome,) = send_pending(tmp_path, quick, now=later(2))
    assert outcome.outcome == "sent" and len(stub.notifications) == 1


def test_back_off_grows_then_gives_up_after_eight_attempts(tmp_path, stub, settings):
    queue(tmp_path)
    stub.stop()
    now = datetime.utcnow().replace(microsecond=0)
    waits = []
    for attempt in range(1, 8):
        (outcome,) = send_pending(tmp_path, settings, now=now)
        assert outcome.outcome == "will retry"
        waiting = record(tmp_path, "pending")
        assert waiting["attempts"] == attempt
        following = datetime.fromisoformat(waiting["next_attempt_at"])
        waits.append(following - now)
        assert send_pending(tmp_path, settings, now=following - timedelta(seconds=1)) == []
        now = following
    assert [w.total_seconds() / 60 for w in waits] == [1, 5, 30, 120, 360, 360, 360]

    (outcome,) = send_pending(tmp_path, settings, now=now)

    assert outcome.outcome == "failed" and "gave up after 8 attempts" in outcome.detail
    assert receipt_status(tmp_path, "R-0123456789") == "failed"
    failed = record(tmp_path, "failed")
    assert failed["attempts"] == 8
    assert len([h for h in failed["history"] if h["outcome"] in {"will retry", "failed"}]) == 8


def test_a_bad_email_address_fails_at_once_with_a_plain_reason_and_no_retry(tmp_path, stub, settings):
    queue(tmp_path, email="not-an-email-address")

    (outcome,) = send_pending(tmp_path, settings)

    assert outcome.outcome == "failed"
    assert "Not a valid email address" in outcome.detail and "400" in outcome.detail
    assert receipt_status(tmp_path, "R-0123456789") == "failed"
    failed = record(tmp_path, "failed")
    assert failed["attempts"] == 1 and "Not a valid email address" in failed["failure"]
    assert send_pending(tmp_path, settings, now=later(60 * 24 * 3)) == []
    assert len(stub.emails()) == 1


def test_a_wrong_template_id_fails_without_retry(tmp_path, stub, api_key):
    wrong = NotifySettings(api_key=api_key, template_id="00000000-0000-4000-8000-000000000000", base_url=stub.url)
    queue(tmp_path)
    (outcome,) = send_pending(tmp_path, wrong)
    assert outcome.outcome == "failed" and "Template not found" in outcome.detail


# --- secrets --------------------------------------------------------------------------------------


def assert_no_secret(api_key: str, *texts: str) -> None:
    service, secret = api_key[-73:-37], api_key[-36:]
    for text in texts:
        for leaked in (api_key, secret, service):
            assert leaked.lower() not in text.lower()
        assert "eyJ" not in text  # the start of every JWT
        assert "Bearer" not in text


def test_a_wrong_api_key_fails_without_the_key_anywhere(tmp_path, stub, caplog):
    caplog.set_level(logging.DEBUG)
    wrong_key = make_api_key("wrong")
    wrong = NotifySettings(api_key=wrong_key, template_id=TEMPLATE, base_url=stub.url)
    queue(tmp_path)

    (outcome,) = send_pending(tmp_path, wrong)

    assert outcome.outcome == "failed" and "refused the API key" in outcome.detail and "403" in outcome.detail
    assert stub.emails()[0].status == 403
    assert_no_secret(wrong_key, outcome.detail, repr(outcome), every_file_text(tmp_path), caplog.text, repr(wrong))
    assert send_pending(tmp_path, wrong, now=later(60 * 24)) == []


def test_notify_echoing_the_token_and_key_is_scrubbed_from_records_outcomes_and_logs(
    tmp_path, stub, settings, api_key, caplog
):
    caplog.set_level(logging.DEBUG)
    service, secret = api_key[-73:-37], api_key[-36:]
    echo = f"bad {{authorization}} key {api_key} secret {secret.upper()} service {service}"
    queue(tmp_path, "R-000000000A")
    queue(tmp_path, "R-000000000B", received_at=RECEIVED + timedelta(minutes=1))
    stub.fail_next(1, 500, echo)  # retryable: goes into the pending record's history
    stub.fail_next(1, 403, echo)  # permanent: goes into the failed record

    outcomes = send_pending(tmp_path, settings)

    assert [o.outcome for o in outcomes] == ["will retry", "failed"]
    assert "[hidden]" in outcomes[0].detail
    texts = [o.detail for o in outcomes] + [every_file_text(tmp_path), caplog.text]
    texts += [str(r.args) + str(r.msg) for r in caplog.records]
    assert_no_secret(api_key, *texts)
    # The client's own warning (it quotes Notify's answer) was logged, scrubbed.
    assert any(r.name.startswith("notifications_python_client") for r in caplog.records)


def test_once_notify_refuses_the_key_the_rest_of_the_batch_waits(tmp_path, stub, settings):
    queue(tmp_path, "R-000000000A")
    queue(tmp_path, "R-000000000B", received_at=RECEIVED + timedelta(minutes=1))
    stub.fail_next(1, 403, "Invalid token: API key not found")

    outcomes = send_pending(tmp_path, settings)

    assert [(o.reference, o.outcome) for o in outcomes] == [("R-000000000A", "failed"), ("R-000000000B", "will retry")]
    assert len(stub.emails()) == 1
    assert record(tmp_path, "pending", "R-000000000B")["attempts"] == 0
    (outcome,) = send_pending(tmp_path, settings)
    assert outcome.outcome == "sent"


# --- the outbox -----------------------------------------------------------------------------------


def test_queueing_is_idempotent_and_keeps_the_first_record(tmp_path, stub, settings):
    first = queue(tmp_path)
    again = queue(tmp_path, email="someone.else@example.gov.uk")

    assert first == again
    assert record(tmp_path, "pending")["email"] == "returns@cabinet-office.example.gov.uk"
    assert [p.name for p in (receipts_dir(tmp_path) / "pending").iterdir()] == ["R-0123456789.json"]

    send_pending(tmp_path, settings)
    assert queue(tmp_path) == receipts_dir(tmp_path) / "sent" / "R-0123456789.json"  # not queued again
    assert send_pending(tmp_path, settings) == [] and len(stub.emails()) == 1


def test_a_queued_record_holds_what_is_needed_to_send_it(tmp_path):
    queue(tmp_path)
    queued = record(tmp_path, "pending")
    assert queued["received_at"] == "2026-12-03T09:15:00"
    assert queued["attempts"] == 0 and queued["sender"] == "alex.smith@cabinet-office.example.gov.uk"
    assert datetime.fromisoformat(queued["next_attempt_at"]) <= datetime.utcnow()
    assert all(set(h) == {"at", "outcome", "detail"} for h in queued["history"])


@pytest.mark.parametrize(
    "reference",
    [
        "../../etc/passwd",
        "R-../../../x",
        "R-012345678",
        "R-01234567890",
        "r-0123456789",
        "R-012345678g",
        "R-0123456789\n",
        "R-0123456789/",
        " R-0123456789",
        "",
        "R-GGGGGGGGGG",
    ],
)
def test_a_reference_that_is_not_r_and_ten_hex_digits_is_refused(tmp_path, reference):
    with pytest.raises(ValueError):
        queue(tmp_path, reference)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    assert receipt_status(tmp_path, reference) is None


def test_concurrent_senders_send_each_receipt_once(tmp_path, stub, settings):
    references = [f"R-{n:010X}" for n in range(12)]
    for n, reference in enumerate(references):
        queue(tmp_path, reference, received_at=RECEIVED + timedelta(seconds=n))
    start = threading.Barrier(3)
    results: list = []

    def sender():
        start.wait()
        results.extend(send_pending(tmp_path, settings))

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    sent_references = [r.body["reference"] for r in stub.emails()]
    assert sorted(sent_references) == references  # each once
    assert sorted(o.reference for o in results if o.outcome == "sent") == references
    assert all(receipt_status(tmp_path, r) == "sent" for r in references)


def test_a_crashed_senders_claim_is_recovered_after_ten_minutes(tmp_path, stub, settings):
    queue(tmp_path, "R-000000000A")
    queue(tmp_path, "R-000000000B")
    sending = receipts_dir(tmp_path) / "sending"
    sending.mkdir(parents=True)
    for reference, age_minutes in (("R-000000000A", 11), ("R-000000000B", 2)):
        claimed = sending / f"{reference}.json"
        os.rename(receipts_dir(tmp_path) / "pending" / f"{reference}.json", claimed)
        old = time.time() - age_minutes * 60
        os.utime(claimed, (old, old))

    outcomes = send_pending(tmp_path, settings)

    assert [(o.reference, o.outcome) for o in outcomes] == [("R-000000000A", "sent")]
    assert receipt_status(tmp_path, "R-000000000A") == "sent"
    assert receipt_status(tmp_path, "R-000000000B") == "pending"  # a live claim is left alone
    assert [r.body["reference"] for r in stub.emails()] == ["R-000000000A"]


def test_a_sender_that_crashed_after_notify_accepted_does_not_send_again(tmp_path, stub, settings, api_key):
    queue(tmp_path)
    client = NotificationsAPIClient(api_key, base_url=stub.url)
    client.send_email_notification("returns@cabinet-office.example.gov.uk", TEMPLATE, {"x": "y"}, "R-0123456789")
    claimed = receipts_dir(tmp_path) / "sending" / "R-0123456789.json"
    claimed.parent.mkdir(parents=True)
    os.rename(receipts_dir(tmp_path) / "pending" / "R-0123456789.json", claimed)
    old = time.time() - 3600
    os.utime(claimed, (old, old))

    (outcome,) = send_pending(tmp_path, settings)

    assert outcome.outcome == "sent" and "already accepted" in outcome.detail
    assert len(stub.emails()) == 1


def test_a_claim_made_now_is_not_mistaken_for_a_crashed_one(tmp_path, stub, settings):
    path = queue(tmp_path)
    old = time.time() - 3600  # queued an hour ago; claiming it must not look like an hour-old claim
    os.utime(path, (old, old))
    stub.delay_next(1, 0.5)
    result: list = []
    worker = threading.Thread(target=lambda: result.extend(send_pending(tmp_path, settings)))
    worker.start()
    time.sleep(0.2)
    assert send_pending(tmp_path, settings) == []  # the other sender's claim is respected
    worker.join(timeout=10)
    assert [o.outcome for o in result] == ["sent"] and len(stub.emails()) == 1


def test_an_unreadable_record_is_moved_to_failed_and_the_rest_are_sent(tmp_path, stub, settings):
    queue(tmp_path, "R-000000000B")
    pending = receipts_dir(tmp_path) / "pending"
    (pending / "R-000000000A.json").write_text("{not json")
    (pending / "R-000000000C.json").write_text(json.dumps({**record(tmp_path, "pending", "R-000000000B")}))
    (pending / ".abc.tmp").write_text("half written")  # an interrupted write is not a receipt

    outcomes = {o.reference: o for o in send_pending(tmp_path, settings)}

    assert outcomes["R-000000000A"].outcome == "failed" and "could not be read" in outcomes["R-000000000A"].detail
    assert outcomes["R-000000000C"].outcome == "failed"  # its reference does not match its file name
    assert outcomes["R-000000000B"].outcome == "sent"
    assert receipt_status(tmp_path, "R-000000000A") == "failed"
    assert "could not be read" in record(tmp_path, "failed", "R-000000000A")["failure"]
    assert [r.body["reference"] for r in stub.emails()] == ["R-000000000B"]


def test_not_configured_leaves_receipts_pending_untouched(tmp_path):
    queue(tmp_path)
    before = record(tmp_path, "pending")

    (outcome,) = send_pending(tmp_path, None)

    assert outcome.outcome == "not configured" and outcome.reference == "R-0123456789"
    assert record(tmp_path, "pending") == before
    assert receipt_status(tmp_path, "R-0123456789") == "pending"
    assert not (receipts_dir(tmp_path) / "sent").exists()


def test_a_key_not_in_notifys_form_is_treated_as_not_configured(tmp_path, stub):
    queue(tmp_path)
    broken = NotifySettings(api_key="not-a-key", template_id=TEMPLATE, base_url=stub.url)
    (outcome,) = send_pending(tmp_path, broken)
    assert outcome.outcome == "not configured" and "not-a-key" not in outcome.detail
    assert stub.requests == [] and record(tmp_path, "pending")["attempts"] == 0


def test_nothing_queued_sends_nothing(tmp_path, settings, stub):
    assert send_pending(tmp_path, settings) == [] and stub.requests == []
    assert receipt_status(tmp_path, "R-0123456789") is None


# --- settings -------------------------------------------------------------------------------------


def test_notify_settings_from_file(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    key = make_api_key()
    assert notify_settings_from_file(tmp_path / "missing.toml") is None

    invalid = tmp_path / "invalid.toml"
    invalid.write_text(f'[notify]\napi_key = "{key}\ntemplate_id = = "x"\n')
    assert notify_settings_from_file(invalid) is None
    assert_no_secret(key, caplog.text)

    other = tmp_path / "other.toml"
    other.write_text('[auth]\nclient_id = "x"\n')
    assert notify_settings_from_file(other) is None

    good = tmp_path / "good.toml"
    good.write_text(f'[auth]\nclient_id = "x"\n\n[notify]\napi_key = "{key}"\ntemplate_id = "{TEMPLATE}"\n')
    settings = notify_settings_from_file(good)
    assert settings == NotifySettings(api_key=key, template_id=TEMPLATE)
    assert settings.base_url == "https://api.notifications.service.gov.uk" and settings.timeout_seconds == 5.0
    assert_no_secret(key, repr(settings), str(settings))

    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert notify_settings_from_file(binary) is None
    assert notify_settings_from_file(tmp_path) is None  # a folder, not a file


def test_notify_settings_needs_a_real_key_template_and_safe_url():
    key = make_api_key()
    assert notify_settings({}) is None
    assert notify_settings({"notify": "not a table"}) is None
    assert notify_settings({"notify": {"api_key": key}}) is None
    assert notify_settings({"notify": {"template_id": TEMPLATE}}) is None
    assert notify_settings({"notify": {"api_key": "short", "template_id": TEMPLATE}}) is None
    assert notify_settings({"notify": {"api_key": key, "template_id": "welcome"}}) is None
    plain_http = {"api_key": key, "template_id": TEMPLATE, "base_url": "http://notify.example.com"}
    assert notify_settings({"notify": plain_http}) is None  # the token would cross the network in clear
    local = notify_settings({"notify": {**plain_http, "base_url": "http://127.0.0.1:8080"}})
    assert local is not None and local.base_url == "http://127.0.0.1:8080"
    assert notify_settings({"notify": {"api_key": key, "template_id": TEMPLATE}}).api_key == key


def test_an_outbox_that_cannot_record_a_success_never_raises_and_never_sends_twice(tmp_path, stub, settings):
    queue(tmp_path, "R-000000000A")
    queue(tmp_path, "R-000000000B", received_at=RECEIVED + timedelta(minutes=1))
    (receipts_dir(tmp_path) / "sent").write_text("a file where the sent/ folder should be")

    outcomes = send_pending(tmp_path, settings)

    assert [o.outcome for o in outcomes] == ["will retry", "will retry"]
    assert all("Could not update the receipt outbox" in o.detail for o in outcomes)
    assert len(stub.notifications) == 2  # Notify has them; the outbox could not say so
    (receipts_dir(tmp_path) / "sent").unlink()
    assert send_pending(tmp_path, settings, now=later(60)) == []  # the claims are still live

    old = time.time() - 11 * 60
    for claimed in (receipts_dir(tmp_path) / "sending").glob("*.json"):
        os.utime(claimed, (old, old))
    outcomes = send_pending(tmp_path, settings)

    assert [o.outcome for o in outcomes] == ["sent", "sent"]
    assert all("already accepted" in o.detail for o in outcomes)
    assert len(stub.emails()) == 2 and len(stub.notifications) == 2


def test_one_client_per_run_and_none_when_nothing_is_due(tmp_path, stub, settings):
    made = []

    def factory(chosen):
        made.append(chosen)
        return NotificationsAPIClient(chosen.api_key, base_url=chosen.base_url, timeout=chosen.timeout_seconds)

    assert send_pending(tmp_path, settings, client_factory=factory) == [] and made == []
    queue(tmp_path, "R-000000000A")
    queue(tmp_path, "R-000000000B")
    assert [o.outcome for o in send_pending(tmp_path, settings, client_factory=factory)] == ["sent", "sent"]
    assert made == [settings]
