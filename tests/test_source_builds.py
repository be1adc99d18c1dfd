"""Two ages per source: when the tracker last built it, and how old its latest figure is; alerts published."""

from __future__ import annotations

import datetime as dt

import duckdb

from assets.publish import alert_rows
from assets.staging import record_build
from tracker.alerts import record_alert
from tracker.settings import snapshot_path


def test_a_build_is_kept_until_the_tables_are_written_again():
    con = duckdb.connect()
    first = record_build(con, "pay", True, "run-1")
    assert first["built at (UTC)"] != "never"
    built_at, by = con.execute("SELECT built_at, built_by_run FROM meta.pay_build").fetchone()
    assert by == "run-1"
    record_build(con, "pay", False, "run-2")  # the source kept its last good figures
    assert con.execute("SELECT built_at, built_by_run FROM meta.pay_build").fetchone() == (built_at, "run-1")
    assert con.execute("SELECT tried_at >= built_at FROM meta.pay_build").fetchone() == (True,)
    record_build(con, "pay", True, "run-3")
    assert con.execute("SELECT built_by_run FROM meta.pay_build").fetchone() == ("run-3",)


def test_never_built_says_so():
    con = duckdb.connect()
    assert record_build(con, "forms", False, "run-1")["built at (UTC)"] == "never"
    assert con.execute("SELECT built_at FROM meta.forms_build").fetchone() == (None,)


def test_the_sources_mart_carries_the_build_time_beside_the_data_date(built):
    con = duckdb.connect(str(snapshot_path(built["home"])), read_only=True)
    try:
        rows = {r[0]: r[1:] for r in con.execute(
            "SELECT source, last_built_at, last_tried_at, latest_date FROM marts.sources").fetchall()}
        assert con.execute("SELECT count(*) FROM meta.alerts").fetchone() is not None
    finally:
        con.close()
    for source in ("pay", "forms", "one_login", "data_sharing", "notify", "verify", "organisations", "skills"):
        last_built, last_tried, _ = rows[source]
        assert last_built is not None and last_tried is not None, source
        assert dt.datetime.now() - last_built < dt.timedelta(days=1), source  # built by this session's run
    built_at, _, latest = rows["pay"]
    assert latest < built_at.date()  # the shipped Pay data ends long before the tracker built it
    assert rows["returns"][:2] == (None, None)


def test_alerts_are_published_newest_first_without_the_webhook(tmp_path):
    home = tmp_path / "home"
    record_alert(home, "source stale", "GOV.UK Pay", "old", at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    record_alert(home, "run failure", "refresh_all", "boom", at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
                 webhook_url="http://127.0.0.1:9/hook?token=abc")
    rows = alert_rows(home)
    assert [r[1] for r in rows] == ["run failure", "source stale"]
    assert rows[0][0] == dt.datetime(2026, 1, 2)
    assert not any("127.0.0.1" in str(v) or "abc" in str(v) for r in rows for v in r)
    assert alert_rows(tmp_path / "nowhere") == []


def test_the_data_quality_page_shows_both_ages_and_the_recent_alerts(built, tmp_path, monkeypatch):
    import json
    import shutil
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from tracker.settings import manifest_path, published_dir

    home = tmp_path / "home"
    shutil.copytree(published_dir(built["home"]), published_dir(home))
    manifest = json.loads(manifest_path(home).read_text(encoding="utf-8"))
    manifest["version"] += "-with-alerts"  # the dashboard caches by version: this copy is a new one
    manifest_path(home).write_text(json.dumps(manifest), encoding="utf-8")
    con = duckdb.connect(str(snapshot_path(home)))
    con.execute("INSERT INTO meta.alerts VALUES ('2026-01-30 09:00', 'source stale', 'GOV.UK Pay performance data', "
                "'GOV.UK Pay performance data: the latest data is from 16 December 2025.', 'posted')")
    con.close()
    monkeypatch.setenv("TRACKER_HOME", str(home))
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("app_pages/data_quality.py").run()
    assert not at.exception and not at.error
    text = "\n".join(m.value for m in at.markdown)
    assert "two ages" in text and "Tracker last built it" in text
    [alerts] = [d.value for d in at.dataframe if "alert_kind" in d.value.columns]
    assert alerts["alert_subject"].tolist() == ["GOV.UK Pay performance data"]
    [sources] = [d.value for d in at.dataframe if "last_built_at" in d.value.columns]
    assert sources["last_built_at"].notna().sum() == 8  # every platform and reference source, and skills
