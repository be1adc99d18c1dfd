"""Sending a return on the web, end to end in a real browser: Streamlit's st.login against a real OpenID Connect
provider on 127.0.0.1 (the oidc-provider-mock package), GOV.UK Notify's own client against a local stub of its
API, the returns sensor's ingestion, and axe-core on every screen of the journey, error states included.

Attacks tried here, each expected to fail: choosing another organisation in the selector (it is not offered),
asking for it in the URL, naming it in the file, reading another organisation's returns on "Your returns" or
the Returns page, a central analyst sending, an identity the access file does not list, and a file name and
a note carrying <img onerror> and a Markdown link (shown as text on every page, never as markup). The
tampering the browser cannot reach (a changed organisation after checking, another person's checked file, a
forged organisation code) is tried in tests/test_web_submission.py against the same functions the page calls.
Screenshots of the journey are saved under tests/screenshots/ (git-ignored).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from pipelines.cli import streamlit_command
from pipelines.sensors import ingest_returns_job
from tests.conftest import AS_OF, everything, make_resources
from tests.notify_stub import NotifyStub, make_api_key
from tests.returns_helpers import csv_bytes, row
from tests.test_dashboard_browser import (
    SCREENSHOTS,
    accessibility_problems,
    free_port,
    settle,
)
from tracker.return_inbox import deliver

TEMPLATE_ID = "f33517ff-2a88-4f6e-b855-c550268ce08a"
HOSTILE = "<img src=x onerror=alert(1)>[click me](http://evil.example)"
USERS = {  # the provider's users: subject -> claims
    "dwp-1": {"email": "dwp.returns@example.com", "email_verified": True, "name": "Dee Submitter"},
    "ho-1": {"email": "ho.returns@example.com", "email_verified": True, "name": "Hal Submitter"},
    "cddo-analyst": {"email": "analyst@example.com", "email_verified": True, "name": "Ana Lyst"},
    "stranger": {"email": "stranger@example.com", "email_verified": True, "name": "Not Listed"},
}
ACCESS = """people:
  - email: dwp.returns@example.com
    role: department submitter
    organisations: [D10]
  - subject: ho-1
    role: department submitter
    organisations: [D16]
  - email: analyst@example.com
    role: central analyst
"""


def wait_for_http(url: str, process: subprocess.Popen, log: Path, seconds: int = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log.read_text()) from None
            time.sleep(0.3)


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    """A real OpenID Connect provider on 127.0.0.1, with the users above."""
    port, log = free_port(), tmp_path_factory.mktemp("oidc") / "oidc.log"
    claims = [json.dumps({"sub": sub, **values}) for sub, values in USERS.items()]
    command = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)]
    for one in claims:
        command += ["--user-claims", one]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/.well-known/openid-configuration", process, log)
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def notify():
    with NotifyStub(make_api_key(), TEMPLATE_ID) as stub:
        yield stub


@pytest.fixture(scope="module")
def site(built, provider, notify, tmp_path_factory):
    """The dashboard on a private copy of the demo's home, signing in through the provider, sending receipts to
    the stub."""
    home = tmp_path_factory.mktemp("submission_home")
    shutil.copy(Path(built["home"]) / "warehouse.duckdb", home / "warehouse.duckdb")
    shutil.copytree(Path(built["home"]) / "published", home / "published")
    port = free_port()
    secrets = home / "secrets.toml"
    secrets.write_text(f"""
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "a-test-cookie-secret-that-is-long-enough-0123456789"
client_id = "adoption-tracker"
client_secret = "test-client-secret"
server_metadata_url = "{provider}/.well-known/openid-configuration"

[notify]
api_key = "{notify.api_key}"
template_id = "{TEMPLATE_ID}"
base_url = "{notify.url}"
""", encoding="utf-8")
    access = home / "access.yaml"
    access.write_text(ACCESS, encoding="utf-8")
    env = {**os.environ, "TRACKER_HOME": str(home), "TRACKER_SECRETS_FILE": str(secrets),
           "TRACKER_ACCESS_FILE": str(access), "TRACKER_AS_OF": AS_OF}
    env.pop("TRACKER_DEMO_SIGN_IN", None)
    log = home / "streamlit.log"
    with log.open("w") as out:
        process = subprocess.Popen(streamlit_command(port, "127.0.0.1", secrets), stdout=out, stderr=subprocess.STDOUT,
                                   env=env)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/_stcore/health", process, log)
    yield {"url": url, "home": home, "log": log, "secrets": secrets}
    process.terminate()
    process.wait(timeout=20)


def new_page(browser):
    """A fresh browser profile (no sign-in cookie) that reaches nothing but this machine."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1).*"), lambda route: route.abort())  # the provider's CDN
    return context.new_page()


@pytest.fixture()
def page(browser):
    page = new_page(browser)
    yield page
    page.context.close()


def sign_in(page, site, subject: str, path: str = "/send-return") -> None:
    page.goto(site["url"] + "/send-return")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.locator('input[name="sub"]').wait_for(timeout=30_000)
    page.fill('input[name="sub"]', subject)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(re.escape(site["url"]) + r"/.*"), timeout=30_000)
    page.get_by_text("Signed in as").first.wait_for(timeout=60_000)
    page.goto(site["url"] + path)  # the provider sends people back to the home page
    settle(page)


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"journey-{name}.png"), full_page=True)


def accessible(page, screen: str) -> None:
    settle(page)
    assert accessibility_problems(page) == [], screen


def upload(page, tmp_path: Path, name: str, content: bytes) -> None:
    page.locator('input[type="file"]').set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": content})
    page.wait_for_timeout(800)
    page.get_by_role("button", name="Check the file").click()


def sensor_ingests(home: Path) -> None:
    """What the returns sensor's run does: ingest the new files, rebuild the returns marts and publish."""
    result = dg.materialize(everything(), selection=ingest_returns_job.selection, resources=make_resources(home))
    assert result.success


def test_a_submitter_signs_in_fixes_sends_and_sees_it_accepted(site, page, notify, tmp_path):
    sign_in(page, site, "dwp-1")
    options = page.get_by_label("Which organisation is the return for?")
    options.click()
    offered = [o.inner_text() for o in page.get_by_role("option").all()]
    assert offered == ["Department for Work and Pensions (D10)"]  # only their own
    page.keyboard.press("Escape")
    accessible(page, "choose")
    shot(page, "1-choose")
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("Fill in the template").wait_for()
    accessible(page, "upload")
    shot(page, "2-upload")

    upload(page, tmp_path, "q3.csv", csv_bytes(row(pay_services_live="25", forms_online="abc")))
    page.get_by_text("There is a problem").wait_for()
    settle(page)
    summary = page.locator(".govuk-error-summary")
    assert "Row 2, column L (pay_services_live)" in summary.inner_text()
    assert "Row 2, column X (forms_online)" in summary.inner_text()
    assert summary.locator("li a").count() == 2 and page.locator("#problem-1").count() == 1
    accessible(page, "errors")
    shot(page, "3-errors")

    started = time.monotonic()
    upload(page, tmp_path, "q3.csv", csv_bytes(row()))
    page.get_by_text("Check your return before sending it").wait_for()
    print(f"page validation: result shown {time.monotonic() - started:.2f} s after the upload")  # in the note
    settle(page)
    body = page.inner_text("body")
    assert "answers differ" in body or "answer differs" in body
    assert "412.5" in body and "412.50" not in body  # FTE to its decimals, not rounded to a whole number
    accessible(page, "check your answers")
    shot(page, "4-check")

    page.get_by_role("button", name="Confirm and send").click()
    page.get_by_text("Return sent").wait_for()
    reference = re.search(r"R-[0-9A-F]{10}", page.locator(".govuk-panel").inner_text())[0]
    accessible(page, "confirmation")
    shot(page, "5-confirmation")

    deadline = time.monotonic() + 30  # the receipt is sent in the background

    def receipts():
        return [e.body for e in notify.emails() if e.status == 201 and e.body.get("reference") == reference]

    while not receipts() and time.monotonic() < deadline:
        time.sleep(0.2)
    [receipt] = receipts()
    assert receipt["email_address"] == "dwp.returns@example.com" and receipt["template_id"] == TEMPLATE_ID
    assert receipt["personalisation"]["reference"] == reference
    assert "Department for Work and Pensions (D10)" in receipt["personalisation"]["organisation"]

    sensor_ingests(site["home"])
    page.get_by_role("link", name="See your returns").click()
    page.get_by_text(reference).first.wait_for(timeout=60_000)
    settle(page)
    mine = page.locator("p", has_text=reference).first.inner_text()
    assert "✓ accepted" in mine and "Department for Work and Pensions" in mine
    accessible(page, "your returns")
    shot(page, "6-your-returns")


def test_another_submitter_cannot_send_or_read_for_the_first_ones_organisation(site, page, tmp_path):
    sign_in(page, site, "ho-1", "/send-return?organisation=D10&organisation_code=D10")
    options = page.get_by_label("Which organisation is the return for?")
    options.click()
    assert [o.inner_text() for o in page.get_by_role("option").all()] == ["Home Office (D16)"]
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("Fill in the template").wait_for()
    assert "Department for Work and Pensions" not in page.inner_text("body")  # the URL chose nothing
    upload(page, tmp_path, "dwp.csv", csv_bytes(row(organisation_code="D10")))  # D10's code in the file
    page.get_by_text("There is a problem").wait_for()
    settle(page)
    assert "it was sent by D16" in page.locator(".govuk-error-summary").inner_text()
    accessible(page, "refused organisation in the file")

    page.goto(site["url"] + "/your-returns")
    page.get_by_text("Your returns").first.wait_for()
    settle(page)
    body = page.inner_text("body")
    assert "D10" not in body and "Department for Work and Pensions" not in body
    page.goto(site["url"] + "/returns")
    page.get_by_text("Returns that failed validation").wait_for(timeout=60_000)
    settle(page)
    # other organisations' rejected returns: status only, no file names or values
    assert "ILLUSTRATIVE_D16" in page.inner_text("body") or "not shown to you" in page.inner_text("body")
    assert "ILLUSTRATIVE_EA73" not in page.inner_text("body")


def test_an_identity_not_in_the_access_file_is_refused(site, page):
    sign_in(page, site, "stranger")
    page.get_by_text("not on the tracker's list").first.wait_for(timeout=60_000)
    assert page.get_by_role("button", name="Continue").count() == 0
    accessible(page, "refused identity")


def test_a_central_analyst_cannot_submit_but_sees_every_return(site, page):
    sign_in(page, site, "cddo-analyst")
    page.get_by_text("not send returns").first.wait_for(timeout=60_000)
    assert page.locator('input[type="file"]').count() == 0 and page.get_by_role("button", name="Continue").count() == 0
    accessible(page, "an analyst on the send page")
    page.goto(site["url"] + "/returns")
    page.get_by_text("Returns that failed validation").wait_for(timeout=60_000)
    settle(page)
    assert "ILLUSTRATIVE_D16" in page.inner_text("body")  # the rejected return's file name, shown to CDDO


def test_sender_text_is_plain_text_on_every_page_that_shows_it(site, page, browser, tmp_path):
    sign_in(page, site, "dwp-1")
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("Fill in the template").wait_for()
    name = f"{HOSTILE}.csv"
    upload(page, tmp_path, name, csv_bytes(row(blockers_note=HOSTILE, pay_services_live="999")))
    page.get_by_text("There is a problem").wait_for()
    settle(page)
    assert_plain(page, "the error summary")
    upload(page, tmp_path, name, csv_bytes(row(blockers_note=HOSTILE)))
    page.get_by_text("Check your return before sending it").wait_for()
    settle(page)
    assert HOSTILE in page.inner_text("body")  # the note, as text
    assert_plain(page, "check your answers")
    page.get_by_role("button", name="Confirm and send").click()
    page.get_by_text("Return sent").wait_for()
    # and a rejected one with the same name, sent from the command line, whose problems echo the value sent
    deliver(site["home"], csv_bytes(row(pay_services_live=HOSTILE)), name, "D10", "tracker submit",
            now=dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC))  # before the reporting date, so the Returns page has it
    sensor_ingests(site["home"])
    page.goto(site["url"] + "/your-returns")
    page.get_by_text("Checked").first.wait_for(timeout=60_000)
    settle(page)
    assert HOSTILE in page.inner_text("body")
    assert_plain(page, "your returns")
    analyst = new_page(browser)
    sign_in(analyst, site, "cddo-analyst", "/returns")
    analyst.get_by_text("Every return received").wait_for(timeout=60_000)
    settle(analyst)
    assert HOSTILE in analyst.inner_text("body")  # the rejected file's name and value, as text
    assert_plain(analyst, "the Returns page")
    analyst.context.close()


def assert_plain(page, where: str) -> None:
    assert page.locator('img[src="x"]').count() == 0, where
    links = page.locator('a[href*="evil.example"]')
    assert links.count() == 0, (where, [links.nth(i).evaluate("e => e.parentElement.outerHTML")
                                        for i in range(links.count())])
    assert page.evaluate("() => window.__alerted === true") is not True, where
