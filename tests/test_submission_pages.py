"""The submission pages' door, with Streamlit's AppTest: they refuse to run without a sign-in provider unless the
demo switch is on, and the demo says so on every screen; a configured provider always wins over the switch."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import DATA
from tests.test_dashboard_pages import signed_in

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PAGES = ("overview", "returns", "send_return", "your_returns")


@pytest.fixture()
def run_page(built, monkeypatch):
    monkeypatch.setenv("TRACKER_HOME", str(built["home"]))
    monkeypatch.delenv("TRACKER_ACCESS_FILE", raising=False)

    def run(page: str, at: AppTest | None = None) -> AppTest:
        at = at if at is not None else AppTest.from_file(APP, default_timeout=60)
        at.run()
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return run


def markup(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


@pytest.mark.parametrize("switch", ["", "off", "1", "true", "yes"])
def test_without_a_provider_or_the_switch_the_submission_pages_refuse(run_page, monkeypatch, switch):
    monkeypatch.setenv("TRACKER_DEMO_SIGN_IN", switch)
    for page in ("send_return", "your_returns"):
        at = run_page(page)
        assert [e.value for e in at.error] and "no sign-in provider is configured" in at.error[0].value
        assert not at.selectbox and not at.button and "DEMO MODE" not in markup(at)


def test_the_demo_switch_says_so_on_every_screen_and_acts_as_illustrative_identities(run_page, monkeypatch):
    monkeypatch.setenv("TRACKER_DEMO_SIGN_IN", "on")
    for page in PAGES:
        assert "DEMO MODE" in markup(run_page(page)), page
    at = run_page("send_return")
    acting = at.sidebar.selectbox(key="demo_identity")
    assert acting.value == "Not signed in" and "dwp.returns@example.com" in acting.options
    acting.set_value("dwp.returns@example.com").run()
    assert not at.exception and not at.error
    [organisation] = [s for s in at.selectbox if s.label == "Which organisation is the return for?"]
    assert organisation.options == ["Department for Work and Pensions (D10)"]  # only the identity's own
    acting.set_value("analyst@example.com").run()
    assert any("not send returns" in e.value for e in at.error)


def test_a_configured_provider_wins_over_the_demo_switch(run_page, monkeypatch, tmp_path):
    monkeypatch.setenv("TRACKER_DEMO_SIGN_IN", "on")
    access = tmp_path / "access.yaml"
    access.write_text("people:\n  - email: analyst@example.com\n    role: central analyst\n")
    monkeypatch.setenv("TRACKER_ACCESS_FILE", str(access))
    at = run_page("send_return", signed_in(AppTest.from_file(APP, default_timeout=60), "stranger@example.com"))
    assert "DEMO MODE" not in markup(at) and not at.sidebar.selectbox
    assert any("not on the tracker's list" in e.value for e in at.error)


def test_an_unusable_access_file_refuses_everyone_with_its_reason(run_page, monkeypatch, tmp_path):
    broken = tmp_path / "access.yaml"
    broken.write_text("people:\n  - email: someone@example.com\n    role: superuser\n")
    monkeypatch.setenv("TRACKER_ACCESS_FILE", str(broken))
    at = run_page("send_return", signed_in(AppTest.from_file(APP, default_timeout=60), "someone@example.com"))
    assert any("role must be one of" in e.value and "Nobody can use these pages" in e.value for e in at.error)


def test_the_receipt_sensor_sends_what_the_page_queued(tmp_path, monkeypatch):
    """Receipts the page could not send (Notify down) go out on the sensor's next tick."""
    import datetime as dt

    from pipelines.sensors import receipt_sender
    from tests.notify_stub import NotifyStub, make_api_key
    from tracker.receipts import queue_receipt, receipt_status
    from tracker.resources import TrackerConfig

    template = "f33517ff-2a88-4f6e-b855-c550268ce08a"
    with NotifyStub(make_api_key(), template) as stub:
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(f'[notify]\napi_key = "{stub.api_key}"\ntemplate_id = "{template}"\n'
                           f'base_url = "{stub.url}"\n')
        monkeypatch.setenv("TRACKER_SECRETS_FILE", str(secrets))
        queue_receipt(tmp_path, reference="R-0123456789", email="dwp.returns@example.com",
                      organisation_name="Department for Work and Pensions", organisation_code="D10",
                      reporting_quarter="2025-26 Q3", received_at=dt.datetime(2026, 1, 20, 9, 0),
                      sender="dwp.returns@example.com")
        context = dg.build_sensor_context(resources={"settings": TrackerConfig(data_dir=str(DATA),
                                                                                home_dir=str(tmp_path))})
        result = receipt_sender(context)
        assert isinstance(result, dg.SkipReason) and "1 sent" in result.skip_message
        assert receipt_status(tmp_path, "R-0123456789") == "sent"
        assert [e.body["reference"] for e in stub.emails()] == ["R-0123456789"]
        again = receipt_sender(context)
        assert "No receipt is due" in again.skip_message and len(stub.emails()) == 1


def test_the_send_page_offers_quarters_as_of_the_published_reporting_date(run_page, monkeypatch):
    """The reporting date every page shows is the snapshot's (2026-01-31 here): the send page offers the quarters
    open then, and the one due, even when the server was started with another TRACKER_AS_OF (a later `tracker run`
    published as of another day while the dashboard stayed up)."""
    monkeypatch.setenv("TRACKER_DEMO_SIGN_IN", "on")
    monkeypatch.setenv("TRACKER_AS_OF", "2025-06-30")  # the server's own setting, older than the snapshot
    at = run_page("send_return")
    at.sidebar.selectbox(key="demo_identity").set_value("dwp.returns@example.com").run()
    assert not at.exception and not at.error
    [quarter] = [s for s in at.selectbox if s.label == "Which quarter is it for?"]
    assert quarter.options[0] == "2025-26 Q4" and quarter.value == "2025-26 Q3"
