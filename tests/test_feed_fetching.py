"""Fetching and keeping the platforms' live feeds, against a real HTTP server on 127.0.0.1.

The server serves each source's own format: the newest real Pay snapshot and API catalogue version
(bytes copied from data/ at test time), a Forms performance.json CONSTRUCTED from the newest Forms
snapshot's figures, and the CONSTRUCTED Notify document in tests/feeds/ (see tests/feeds/README.md).
Nothing here reaches the internet; stamina's back-off waits are made instant.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import stamina
import yaml

from tracker.feed_store import fetch_log, record_failure, store, stored_documents
from tracker.feeds import load_feeds, url_variable
from tracker.fetching import Fetched, FetchError, check_format, fetch
from tracker.notify_performance import NotifyFormatError, parse_notify_performance
from tracker.settings import feeds_dir

PROJECT = Path(__file__).resolve().parent.parent
DATA = PROJECT / "data"
NOTIFY_DOCUMENT = PROJECT / "tests" / "feeds" / "notify_performance_constructed.json"


def newest(folder: Path, pattern: str) -> Path:
    return sorted(folder.glob(pattern))[-1]


PAY_BYTES = newest(DATA / "pay" / "snapshots", "*.json").read_bytes()
CATALOGUE_BYTES = newest(DATA / "data_sharing" / "catalogue_versions", "*.csv").read_bytes()
FORMS_YAML = newest(DATA / "forms" / "snapshots", "*.yml")
NOTIFY_BYTES = NOTIFY_DOCUMENT.read_bytes()


def forms_json() -> bytes:
    """CONSTRUCTED: the newest Forms snapshot's figures as a performance.json (no date of its own)."""
    metrics = yaml.safe_load(FORMS_YAML.read_text(encoding="utf-8"))["performance_metrics"]
    return json.dumps({key: metrics[key] for key in ("organisations", "published", "submissions")}).encode()


# --- the server -----------------------------------------------------------------------------------

@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    delay: float = 0.0  # seconds to wait before answering
    headers: dict[str, str] = field(default_factory=dict)
    length: bool = True  # send Content-Length (False: the body ends when the connection closes)
    stream: int = 0  # send this many bytes of filler instead of body, in chunks, counting what went out


class Server:
    """A ThreadingHTTPServer on 127.0.0.1 (port 0): each path answers with its replies in turn (the last
    one repeats); every request is counted."""

    def __init__(self):
        self.routes: dict[str, list[Reply]] = {}
        self.hits: dict[str, int] = {}
        self.sent: dict[str, int] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802 (the stdlib's name)
                path = self.path
                count = owner.hits.get(path, 0)
                owner.hits[path] = count + 1
                replies = owner.routes.get(path) or [Reply(status=404, body=b"not here", content_type="text/plain")]
                reply = replies[min(count, len(replies) - 1)]
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    if reply.length and "Content-Length" not in reply.headers:
                        self.send_header("Content-Length", str(reply.stream or len(reply.body)))
                    self.end_headers()
                    if reply.stream:
                        chunk = b"x" * 65536
                        sent = 0
                        owner.sent[path] = 0
                        while sent < reply.stream:
                            self.wfile.write(chunk)
                            sent += len(chunk)
                            owner.sent[path] = sent
                    else:
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def serve(self, path: str, *replies: Reply) -> str:
        self.routes[path] = list(replies)
        return self.url(path)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server():
    running = Server()
    yield running
    running.close()


@pytest.fixture(autouse=True)
def instant_backoff():
    """stamina's testing mode: no waits; cap=True keeps each call's own number of attempts."""
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


# --- the configuration ----------------------------------------------------------------------------

def test_every_source_has_an_address_a_format_a_publisher_and_a_schedule():
    feeds = load_feeds()
    assert set(feeds) == {"pay", "forms", "data_sharing", "notify"}
    assert feeds["pay"].url.endswith("/alphagov/pay-product-page/main/data/performance.json")
    assert feeds["data_sharing"].url == "https://raw.githubusercontent.com/co-cddo/api-catalogue/main/data/catalogue.csv"
    assert feeds["forms"].url == "https://www.forms.service.gov.uk/performance.json"
    assert feeds["notify"].url == "https://www.notifications.service.gov.uk/features/performance.json"
    assert {feed.format for feed in feeds.values()} == {"json", "csv"}
    for feed in feeds.values():
        assert feed.url.startswith("https://") and feed.publisher
        assert len(feed.schedule.split()) == 5
    assert feeds["pay"].schedule.split()[4] != "*"  # weekly
    assert all(feeds[key].schedule.split()[2:] == ["*", "*", "*"] for key in ("forms", "data_sharing", "notify"))


def test_an_environment_variable_overrides_a_source_address(monkeypatch, server):
    url = server.serve("/override/pay.json", Reply(body=PAY_BYTES))
    monkeypatch.setenv(url_variable("pay"), url)
    feeds = load_feeds()
    assert url_variable("pay") == "TRACKER_FEED_PAY_URL"
    assert feeds["pay"].url == url and feeds["pay"].default_url.startswith("https://")
    assert fetch(feeds["pay"].url, expect=feeds["pay"].format).content == PAY_BYTES


# --- each source's format, byte for byte ----------------------------------------------------------

@pytest.mark.parametrize(("path", "content", "fmt", "content_type"), [
    ("/pay/performance.json", PAY_BYTES, "json", "application/json"),
    ("/forms/performance.json", forms_json(), "json", "application/json; charset=utf-8"),
    ("/data/catalogue.csv", CATALOGUE_BYTES, "csv", "text/plain; charset=utf-8"),
    ("/features/performance.json", NOTIFY_BYTES, "json", "application/json"),
    ("/forms/performance_metrics.yml", FORMS_YAML.read_bytes(), "yaml", "text/plain"),
])
def test_each_source_is_fetched_byte_for_byte(server, path, content, fmt, content_type):
    url = server.serve(path, Reply(body=content, content_type=content_type))
    fetched = fetch(url, expect=fmt)
    assert fetched.content == content
    assert fetched.sha256 == hashlib.sha256(content).hexdigest()
    assert fetched.url == url and fetched.content_type == content_type
    assert fetched.fetched_at.tzinfo is None


def test_a_redirect_is_followed_on_the_loopback_address_but_never_to_plain_http(server):
    target = server.serve("/moved/here.json", Reply(body=PAY_BYTES))
    url = server.serve("/moved.json", Reply(status=302, headers={"Location": target}))
    assert fetch(url).content == PAY_BYTES
    url = server.serve("/moved-away.json", Reply(status=301, headers={"Location": "http://example.invalid/x.json"}))
    with pytest.raises(FetchError, match=r"redirected to http://example\.invalid/x\.json, which is not an https"):
        fetch(url)
    assert server.hits["/moved-away.json"] == 1


def test_a_plain_http_address_elsewhere_is_refused_without_asking():
    with pytest.raises(FetchError, match="is not an https address"):
        fetch("http://www.payments.service.gov.uk/performance.json")


# --- failures -------------------------------------------------------------------------------------

def test_a_server_that_does_not_answer_in_time_times_out_after_every_attempt(server):
    url = server.serve("/slow.json", Reply(body=PAY_BYTES, delay=3))
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch(url, timeout_seconds=0.3, attempts=2)
    assert str(caught.value) == f"The feed at {url} timed out after 0.3 s, 2 attempts."
    assert server.hits["/slow.json"] == 2
    assert time.monotonic() - started < 2.5  # gave up, did not wait for the answers


def test_http_500_then_success_is_retried_and_succeeds(server):
    url = server.serve("/flaky.json", Reply(status=500, body=b"oops", content_type="text/plain"),
                       Reply(body=NOTIFY_BYTES))
    assert fetch(url, attempts=4, expect="json").content == NOTIFY_BYTES
    assert server.hits["/flaky.json"] == 2


def test_http_429_is_retried(server):
    url = server.serve("/busy.json", Reply(status=429, body=b"slow down", content_type="text/plain"),
                       Reply(body=PAY_BYTES))
    assert fetch(url).content == PAY_BYTES
    assert server.hits["/busy.json"] == 2


def test_http_500_always_fails_after_every_attempt(server):
    url = server.serve("/broken.json", Reply(status=500, body=b"oops", content_type="text/plain"))
    with pytest.raises(FetchError) as caught:
        fetch(url, attempts=3)
    assert str(caught.value) == f"The feed at {url} answered HTTP 500 (Internal Server Error), 3 attempts."
    assert caught.value.url == url
    assert server.hits["/broken.json"] == 3


def test_http_404_is_not_retried(server):
    url = server.url("/nowhere.json")
    with pytest.raises(FetchError) as caught:
        fetch(url, attempts=4)
    assert str(caught.value) == f"The feed at {url} answered HTTP 404 (Not Found)."
    assert server.hits["/nowhere.json"] == 1


def test_a_connection_refused_is_retried_then_reported(server):
    closed = Server()
    url = closed.url("/gone.json")
    closed.close()
    with pytest.raises(FetchError, match=r"could not be reached \(ConnectError.*\), 2 attempts\.$"):
        fetch(url, attempts=2)


def test_truncated_json_is_refused_by_the_format_check(server):
    url = server.serve("/cut.json", Reply(body=PAY_BYTES[: len(PAY_BYTES) // 2]))
    fetched = fetch(url)  # the transfer itself was whole
    with pytest.raises(FetchError, match=r"returned JSON that is cut short or malformed \(line \d+"):
        check_format(fetched, "json")
    with pytest.raises(FetchError, match="cut short"):
        fetch(url, expect="json")


def test_an_html_error_page_served_with_status_200_is_refused(server):
    page = b"<!DOCTYPE html>\n<html lang='en'><head><title>Sorry, there is a problem</title></head></html>"
    url = server.serve("/error-page.json", Reply(body=page, content_type="text/html; charset=utf-8"))
    with pytest.raises(FetchError) as caught:
        fetch(url, expect="json")
    assert str(caught.value) == f"The feed at {url} returned an HTML page, not JSON."
    # the same page declared as plain text is still an HTML page
    url = server.serve("/error-page.csv", Reply(body=b"\n  " + page, content_type="text/plain"))
    with pytest.raises(FetchError, match="returned an HTML page, not CSV"):
        fetch(url, expect="csv")


@pytest.mark.parametrize(("body", "fmt", "problem"), [
    (b"", "json", "returned an empty document, not JSON"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "csv", "returned binary data, not CSV"),
    (b'{"a": "caf\xe9"}', "json", "not UTF-8"),
    (b'dateAdded,url,name\n2025-01-01,"https://x,unclosed\n', "csv", "returned CSV that is cut short or malformed"),
    (b"just words", "yaml", "returned YAML with no mapping or list in it"),
])
def test_other_bodies_that_are_not_the_format_are_refused(server, body, fmt, problem):
    url = server.serve(f"/odd-{fmt}-{len(body)}", Reply(body=body, content_type="text/plain"))
    with pytest.raises(FetchError, match=problem):
        fetch(url, expect=fmt)


def test_a_body_over_the_size_cap_is_refused_without_reading_it_all(server):
    total = 64 * 1_000_000
    url = server.serve("/huge.json", Reply(stream=total, length=False))
    with pytest.raises(FetchError) as caught:
        fetch(url, max_bytes=200_000)
    assert str(caught.value) == f"The feed at {url} is larger than 0.2 MB, so reading it was stopped there."
    time.sleep(0.2)
    assert server.sent["/huge.json"] < total / 2  # the client hung up long before the end


def test_a_declared_size_over_the_cap_is_refused_before_reading(server):
    url = server.serve("/declared.json", Reply(stream=3_000_000))
    with pytest.raises(FetchError, match=r"is larger than 1 MB \(3 MB declared\), so it was not read\.$"):
        fetch(url, max_bytes=1_000_000)
    assert server.hits["/declared.json"] == 1


# --- Notify's document ----------------------------------------------------------------------------

def notify_document() -> dict:
    return json.loads(NOTIFY_BYTES)


def serve_notify(server, name: str, document: dict) -> bytes:
    url = server.serve(f"/notify/{name}.json", Reply(body=json.dumps(document).encode()))
    return fetch(url, expect="json").content


def test_notify_document_is_read_and_duplicate_organisations_are_summed(server):
    performance = parse_notify_performance(serve_notify(server, "as-published", notify_document()))
    by_name = performance.live_services_by_organisation()
    assert by_name["HM Revenue & Customs"] == 43  # two rows, 40 + 3
    assert [row.rows for row in performance.organisations if row.name == "HM Revenue & Customs"] == [2]
    assert len(by_name) == len(performance.organisations) == 10
    assert sum(by_name.values()) == performance.count_of_services == 303
    assert performance.live_service_count == 304
    assert performance.total_notifications == (performance.email_notifications + performance.sms_notifications
                                               + performance.letter_notifications) == 19_250_000_000
    assert [str(day.date) for day in performance.daily][:: 6] == ["2025-12-15", "2025-12-21"]
    assert (str(performance.first_date), str(performance.last_date)) == ("2025-12-15", "2025-12-21")
    assert performance.count_of_organisations == 10
    assert 99 < performance.average_percentage_under_10_seconds <= 100


def test_notify_duplicates_far_apart_are_summed_too():
    document = notify_document()
    document["organisations_using_notify"].append({"organisation_name": "Cabinet Office", "count_of_live_services": 2})
    performance = parse_notify_performance(json.dumps(document).encode())
    assert performance.live_services_by_organisation()["Cabinet Office"] == 16
    assert performance.organisations[0].name == "Cabinet Office"  # where it first appeared


def test_notify_new_keys_are_ignored(server):
    document = notify_document()
    document["messages_by_channel_since_2016"] = {"email": 1}
    document["organisations_using_notify"][0]["organisation_id"] = "5c8a1d6e-0000-4000-8000-000000000000"
    document["notifications_by_type"][0]["whatsapp"] = 7
    performance = parse_notify_performance(serve_notify(server, "new-key", document))
    assert performance == parse_notify_performance(NOTIFY_BYTES)


def test_notify_a_renamed_required_key_is_named(server):
    document = notify_document()
    document["organisations"] = document.pop("organisations_using_notify")
    with pytest.raises(NotifyFormatError) as caught:
        parse_notify_performance(serve_notify(server, "renamed", document))
    assert isinstance(caught.value, ValueError)
    assert caught.value.problem == ("has no 'organisations_using_notify' key, which Notify's performance data "
                                    "always has.")
    assert str(caught.value).startswith("GOV.UK Notify's performance data: has no 'organisations_using_notify'")


@pytest.mark.parametrize(("change", "named"), [
    (lambda d: d["organisations_using_notify"][3].update(
        live_services=d["organisations_using_notify"][3].pop("count_of_live_services")),
     r"has no 'count_of_live_services' key in organisations_using_notify\[3\]"),
    (lambda d: d.pop("total_notifications"), "has no 'total_notifications' key"),
    (lambda d: d.update(live_service_count="304"), "'live_service_count' that is not a whole number: '304'"),
    (lambda d: d.update(organisations_using_notify={}), "'organisations_using_notify' that should be a list"),
    (lambda d: d["notifications_by_type"][1].update(date="last Tuesday"),
     r"'notifications_by_type\[1\]\.date' that is not a date"),
    (lambda d: d["organisations_using_notify"][0].update(count_of_live_services=True),
     r"'organisations_using_notify\[0\]\.count_of_live_services' that is not a whole number"),
    (lambda d: d["count_of_live_services_and_organisations"].pop("services"),
     "has no 'services' key in count_of_live_services_and_organisations"),
])
def test_notify_a_missing_or_mistyped_key_is_named(change, named):
    document = notify_document()
    change(document)
    with pytest.raises(NotifyFormatError, match=named):
        parse_notify_performance(json.dumps(document).encode())


def test_notify_dates_as_flask_writes_them_are_read():
    document = notify_document()
    document["notifications_by_type"][0]["date"] = "Mon, 15 Dec 2025 00:00:00 GMT"
    assert str(parse_notify_performance(json.dumps(document).encode()).first_date) == "2025-12-15"


# --- keeping what was fetched ---------------------------------------------------------------------

def test_an_identical_document_twice_is_kept_once_and_logged_twice(server, tmp_path):
    url = server.serve("/store/pay.json", Reply(body=PAY_BYTES))
    first = store(tmp_path, "pay", fetch(url, expect="json"))
    second = store(tmp_path, "pay", fetch(url, expect="json"))
    assert first is not None and second is None
    kept = stored_documents(tmp_path, "pay")
    assert [doc.path for doc in kept] == [first.path]
    assert first.path.parent == feeds_dir(tmp_path) / "pay"
    assert first.path.name.endswith(f"_{hashlib.sha256(PAY_BYTES).hexdigest()[:8]}.json")
    assert first.path.read_bytes() == PAY_BYTES
    log = fetch_log(tmp_path, "pay")
    assert [row["outcome"] for row in log] == ["stored", "unchanged"]
    assert [row["stored_as"] for row in log] == [first.path.name] * 2
    assert {row["sha256"] for row in log} == {hashlib.sha256(PAY_BYTES).hexdigest()}
    assert {row["size_bytes"] for row in log} == {str(len(PAY_BYTES))}
    assert {row["url"] for row in log} == {url}
    header = (feeds_dir(tmp_path) / "pay" / "fetches.csv").read_text().splitlines()[0]
    assert header == "fetched_at,url,sha256,size_bytes,outcome,stored_as,problem"


def test_a_changed_document_is_kept_as_a_second_file_byte_for_byte(server, tmp_path):
    changed = CATALOGUE_BYTES + b'2026-01-05,https://example.gov.uk/api,A new API,"",,,,,,,,cabinet-office\n'
    url = server.serve("/store/catalogue.csv", Reply(body=CATALOGUE_BYTES, content_type="text/plain"),
                       Reply(body=changed, content_type="text/plain"))
    first = store(tmp_path, "data_sharing", fetch(url, expect="csv"))
    second = store(tmp_path, "data_sharing", fetch(url, expect="csv"))
    assert first is not None and second is not None and first.path != second.path
    kept = stored_documents(tmp_path, "data_sharing")
    assert [doc.path for doc in kept] == [first.path, second.path]  # oldest first
    assert [doc.path.read_bytes() for doc in kept] == [CATALOGUE_BYTES, changed]
    assert [doc.sha256 for doc in kept] == [hashlib.sha256(b).hexdigest() for b in (CATALOGUE_BYTES, changed)]
    assert all(doc.path.suffix == ".csv" for doc in kept)
    assert [row["outcome"] for row in fetch_log(tmp_path, "data_sharing")] == ["stored", "stored"]
    # back to the first version: a change from the last one kept, so kept again
    third = store(tmp_path, "data_sharing", fetch(server.serve("/store/again.csv", Reply(body=CATALOGUE_BYTES,
                                                                                         content_type="text/csv"))))
    assert third is not None and len(stored_documents(tmp_path, "data_sharing")) == 3


def test_a_failure_is_logged_with_its_problem_and_keeps_no_file(server, tmp_path):
    url = server.serve("/store/notify.json", Reply(status=500, body=b"oops", content_type="text/plain"))
    with pytest.raises(FetchError) as caught:
        fetch(url, attempts=2)
    record_failure(tmp_path, "notify", url, caught.value.problem)
    assert stored_documents(tmp_path, "notify") == []
    assert [path.name for path in (feeds_dir(tmp_path) / "notify").iterdir()] == ["fetches.csv"]
    (row,) = fetch_log(tmp_path, "notify")
    assert row["outcome"] == "failed" and row["url"] == url
    assert row["problem"] == "answered HTTP 500 (Internal Server Error), 2 attempts"
    assert row["sha256"] == row["size_bytes"] == row["stored_as"] == ""
    # then a good fetch: stored, and the log keeps both, in order
    server.serve("/store/notify.json", Reply(body=NOTIFY_BYTES))
    kept = store(tmp_path, "notify", fetch(url, expect="json"))
    assert kept.path.read_bytes() == NOTIFY_BYTES
    assert [row["outcome"] for row in fetch_log(tmp_path, "notify")] == ["failed", "stored"]


def test_the_forms_document_is_kept_under_its_fetch_time(server, tmp_path):
    url = server.serve("/store/forms.json", Reply(body=forms_json()))
    fetched = fetch(url, expect="json")
    kept = store(tmp_path, "forms", fetched)
    assert kept.fetched_at == fetched.fetched_at.replace(microsecond=0)
    assert kept.path.name.startswith(fetched.fetched_at.strftime("%Y-%m-%dT%H%M%SZ_"))
    assert not list(kept.path.parent.glob(".*"))  # no temporary file left behind


def test_a_source_key_cannot_leave_the_feeds_folder(tmp_path):
    with pytest.raises(ValueError, match="not a source key"):
        stored_documents(tmp_path, "../pay")


def test_back_and_forth_within_one_second_keeps_each_change_in_order(tmp_path):
    def at(content: bytes) -> Fetched:
        return Fetched(url="https://example.gov.uk/feed.json", content=content,
                       sha256=hashlib.sha256(content).hexdigest(),
                       fetched_at=dt.datetime(2026, 1, 5, 6, 0, 0, 123), content_type="")

    first, second, third = (store(tmp_path, "pay", at(body)) for body in (b'{"v": 1}', b'{"v": 2}', b'{"v": 1}'))
    assert third.path.name == first.path.name.replace(".json", "-2.json")
    assert [doc.path for doc in stored_documents(tmp_path, "pay")] == [first.path, second.path, third.path]
    assert store(tmp_path, "pay", at(b'{"v": 1}')) is None  # the same as the last one kept
    assert [row["outcome"] for row in fetch_log(tmp_path, "pay")] == ["stored"] * 3 + ["unchanged"]


def test_a_log_line_a_killed_fetch_left_half_written_never_swallows_the_next(tmp_path):
    """A process killed while appending to fetches.csv leaves a line without its end (or a file without its
    header): the next fetch's row still stands on its own line, and the stored documents keep their order."""
    def at(content: bytes, second: int) -> Fetched:
        return Fetched(url="https://example.gov.uk/feed.json", content=content,
                       sha256=hashlib.sha256(content).hexdigest(),
                       fetched_at=dt.datetime(2026, 1, 5, 6, 0, second), content_type="")

    first = store(tmp_path, "pay", at(b'{"v": 1}', 0))
    log = feeds_dir(tmp_path) / "pay" / "fetches.csv"
    with log.open("a", encoding="utf-8") as handle:
        handle.write("2026-01-05T06:00:01,https://example.gov.uk/feed.js")  # killed mid-line
    second = store(tmp_path, "pay", at(b'{"v": 2}', 2))
    rows = fetch_log(tmp_path, "pay")
    assert [(r["outcome"], r["stored_as"]) for r in rows if r["outcome"]] == [
        ("stored", first.path.name), ("stored", second.path.name)]
    assert [d.path for d in stored_documents(tmp_path, "pay")] == [first.path, second.path]

    log.write_text("")  # killed before the header was written
    store(tmp_path, "pay", at(b'{"v": 3}', 3))
    assert [r["outcome"] for r in fetch_log(tmp_path, "pay")] == ["stored"]
