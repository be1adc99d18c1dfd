"""Alerts: recorded in TRACKER_HOME/alerts/alerts.jsonl, posted to a webhook on 127.0.0.1, never twice per breach."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import duckdb
import pytest

from pipelines.alerting import alert_on_run_failure, alert_on_stale_data, freshness_breaches
from tracker.alerts import alerts_file, configured_webhook, read_alerts, record_alert, safe_address
from tracker.resources import TrackerConfig
from tracker.settings import manifest_path, published_dir, snapshot_path

TOKEN = "s3cr3t-token-value"


class Receiver:
    """A webhook on 127.0.0.1 that keeps what it was sent and answers with ``status``."""

    def __init__(self, status: int = 200):
        self.status = status
        self.received: list[dict] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length", 0))
                receiver.received.append(json.loads(self.rfile.read(length)))
                receiver.paths.append(self.path)
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tracker?token={TOKEN}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.delenv("TRACKER_ALERT_WEBHOOK", raising=False)
    monkeypatch.setenv("TRACKER_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    return tmp_path / "home"


def test_an_alert_is_recorded_and_posted_with_its_body(home):
    at = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    with Receiver() as receiver:
        alert = record_alert(home, "run failure", "refresh_all", "boom", at=at, webhook_url=receiver.url)
    assert alert.webhook_outcome == "posted"
    assert receiver.received == [{"kind": "run failure", "subject": "refresh_all", "message": "boom",
                                  "at": "2026-03-02T09:30:00+00:00",
                                  "tracker": "Cross-government platform adoption tracker"}]
    assert receiver.paths == [f"/hooks/tracker?token={TOKEN}"]  # the token reaches the receiver ...
    [line] = read_alerts(home)
    assert line["webhook_outcome"] == "posted" and line["message"] == "boom" and line["subject"] == "refresh_all"
    assert line["webhook"] == receiver.url.split("?")[0]
    assert TOKEN not in alerts_file(home).read_text(encoding="utf-8")  # ... and is never written down


def test_a_refusing_webhook_is_recorded_with_its_status_after_one_retry(home):
    with Receiver(status=500) as receiver:
        alert = record_alert(home, "source stale", "GOV.UK Pay", "old", webhook_url=receiver.url)
    assert alert.webhook_outcome == "HTTP 500"
    assert len(receiver.received) == 2  # one retry
    assert read_alerts(home)[0]["webhook_outcome"] == "HTTP 500"
    assert TOKEN not in alerts_file(home).read_text(encoding="utf-8")


def test_a_webhook_that_is_down_is_recorded_as_failed_without_raising(home):
    with Receiver() as receiver:
        url = receiver.url
    alert = record_alert(home, "source stale", "GOV.UK Pay", "old", webhook_url=url)  # the server is closed
    assert alert.webhook_outcome.startswith("failed: ")
    assert read_alerts(home)[0]["webhook_outcome"] == alert.webhook_outcome
    assert TOKEN not in alerts_file(home).read_text(encoding="utf-8")


def test_without_a_webhook_the_alert_is_only_recorded(home):
    assert configured_webhook() is None
    alert = record_alert(home, "run failure", "refresh_all", "boom")
    assert alert.webhook_outcome == "no webhook" and alert.webhook is None
    assert len(read_alerts(home)) == 1


def test_the_webhook_comes_from_the_environment_or_the_secrets_file(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[alerts]\nwebhook_url = "https://hooks.example.org/a/b?key=1"\n', encoding="utf-8")
    assert configured_webhook({}, secrets) == "https://hooks.example.org/a/b?key=1"
    assert configured_webhook({"TRACKER_ALERT_WEBHOOK": "https://other.example.org/x"}, secrets) == \
        "https://other.example.org/x"
    assert configured_webhook({}, tmp_path / "missing.toml") is None
    assert safe_address("https://user:pw@hooks.example.org:8443/a/b?key=1#f") == "https://hooks.example.org:8443/a/b"


# --- the run-failure sensor --------------------------------------------------------------------------


@dg.asset
def breaks():
    raise ValueError("the warehouse said no")


def test_the_run_failure_sensor_records_the_job_run_and_step_error(home, monkeypatch):
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([breaks], instance=instance, raise_on_error=False)
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure", dagster_event=result.get_run_failure_event(), dagster_instance=instance,
        dagster_run=result.dagster_run, resources={"settings": TrackerConfig(data_dir=str(home), home_dir=str(home))},
    ).for_run_failure()
    with Receiver() as receiver:
        monkeypatch.setenv("TRACKER_ALERT_WEBHOOK", receiver.url)
        alert_on_run_failure(context)
    [alert] = read_alerts(home)
    assert alert["kind"] == "run failure" and alert["webhook_outcome"] == "posted"
    assert result.dagster_run.run_id in alert["message"] and result.dagster_run.job_name in alert["message"]
    assert "step breaks: ValueError: the warehouse said no" in alert["message"]
    assert "Error occurred while executing" not in alert["message"]
    assert receiver.received[0]["message"] == alert["message"]


# --- the freshness sensor ----------------------------------------------------------------------------


def publish(home, published_at: dt.datetime, sources: list[tuple[str, str, str | None]]) -> None:
    """A minimal published snapshot: marts.sources (source, name, freshness, latest date) and its manifest."""
    published_dir(home).mkdir(parents=True, exist_ok=True)
    snapshot_path(home).unlink(missing_ok=True)
    con = duckdb.connect(str(snapshot_path(home)))
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.sources (source VARCHAR, name VARCHAR, latest_date DATE, days_old BIGINT, "
                "fresh_within_days INTEGER, cadence VARCHAR, freshness VARCHAR)")
    for source, freshness, latest in sources:
        con.execute("INSERT INTO marts.sources VALUES (?, ?, ?::DATE, 30, 14, 'weekly', ?)",
                    [source, f"The {source} source", latest, freshness])
    con.close()
    manifest_path(home).write_text(json.dumps({"published_at": published_at.isoformat(timespec="seconds")}),
                                   encoding="utf-8")


def tick(home) -> list[dict]:
    before = len(read_alerts(home))
    context = dg.build_sensor_context(resources={"settings": TrackerConfig(data_dir=str(home), home_dir=str(home))})
    alert_on_stale_data(context)
    return read_alerts(home)[before:]


def test_a_stale_source_alerts_once_and_again_only_after_it_recovered(home):
    now = dt.datetime.now(dt.UTC)
    publish(home, now, [("pay", "stale", "2026-01-05"), ("forms", "fresh", "2026-02-01")])
    first = tick(home)
    assert [(a["kind"], a["subject"], a["key"]) for a in first] == [
        ("source stale", "The pay source", "source:pay:2026-01-05")]
    assert "5 January 2026" in first[0]["message"]
    assert tick(home) == []  # the same breach on the next tick: no second alert
    publish(home, now, [("pay", "fresh", "2026-02-02"), ("forms", "fresh", "2026-02-01")])
    assert tick(home) == []  # recovered
    publish(home, now, [("pay", "stale", "2026-02-02"), ("forms", "fresh", "2026-02-01")])
    assert [a["key"] for a in tick(home)] == ["source:pay:2026-02-02"]  # stale again: alerted again
    publish(home, now, [("pay", "fresh", "2026-02-02")])
    assert tick(home) == []
    publish(home, now, [("pay", "stale", "2026-02-02")])
    assert [a["key"] for a in tick(home)] == ["source:pay:2026-02-02"]  # the same key, after recovering


def test_a_snapshot_past_its_window_alerts_once(home):
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=9)
    publish(home, old, [("pay", "fresh", "2026-02-02")])
    [alert] = tick(home)
    assert alert["kind"] == "snapshot stale" and "9 days old" in alert["message"]
    assert tick(home) == []
    publish(home, dt.datetime.now(dt.UTC), [("pay", "fresh", "2026-02-02")])
    assert freshness_breaches(home) == [] and tick(home) == []


def test_no_snapshot_yet_is_no_alert_and_says_so(home):
    assert tick(home) == []
    context = dg.build_sensor_context(resources={"settings": TrackerConfig(data_dir=str(home), home_dir=str(home))})
    assert "Nothing has been published yet" in alert_on_stale_data(context).skip_message  # not "everything is fresh"


def test_the_freshness_sensor_posts_without_writing_the_token(home, monkeypatch):
    publish(home, dt.datetime.now(dt.UTC), [("pay", "stale", "2026-01-05")])
    with Receiver() as receiver:
        monkeypatch.setenv("TRACKER_ALERT_WEBHOOK", receiver.url)
        [alert] = tick(home)
    assert alert["webhook_outcome"] == "posted" and receiver.received[0]["kind"] == "source stale"
    assert TOKEN not in alerts_file(home).read_text(encoding="utf-8")


def test_both_sensors_are_registered_and_running_by_default():
    from pipelines.definitions import defs

    for name in ("alert_on_run_failure", "alert_on_stale_data"):
        sensor = defs.resolve_sensor_def(name)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING, name
    assert defs.resolve_sensor_def("alert_on_stale_data").minimum_interval_seconds == 600
