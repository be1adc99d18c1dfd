"""The live feeds wired into the pipeline: fetched on a schedule, read like any archived version, published.

A real HTTP server on 127.0.0.1 (tests/test_feed_fetching.py's) stands for each platform, and
TRACKER_FEED_<SOURCE>_URL points the fetch assets at it; every run works on a private copy of the shared
built home. The Pay document served is the newest archived snapshot with a figure changed (CONSTRUCTED
here: an organisation added, dated the day of the fetch). Nothing here reaches the internet.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import stamina
import yaml

from tests.conftest import DATA, everything, make_resources, query
from tests.test_feed_fetching import FORMS_YAML, NOTIFY_BYTES, PAY_BYTES, Reply, Server
from tracker.feed_store import fetch_log, stored_documents
from tracker.feeds import url_variable

NEW_ORGANISATION = "Office for Feed Testing (constructed)"


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def new_pay_document() -> bytes:
    """The newest archived snapshot with one organisation (and one service) more, dated today."""
    data = json.loads(PAY_BYTES)
    data["dateUpdated"] = f"{today().day} {today():%B %Y}"
    data["numberOfServices"] += 1
    data["numberOfOrganisations"] += 1
    data["serviceCountByOrganisation"][NEW_ORGANISATION] = 1
    return json.dumps(data, indent=2).encode()


@pytest.fixture(scope="module")
def server():
    running = Server()
    yield running
    running.close()


@pytest.fixture(autouse=True)
def instant_backoff():
    with stamina.set_testing(True, attempts=3, cap=True):
        yield


@pytest.fixture()
def home(built, tmp_path) -> Path:
    """A private copy of the shared built home (warehouse, published snapshot, dbt state)."""
    target = tmp_path / "home"
    shutil.copytree(built["home"], target, ignore=shutil.ignore_patterns("*.lock", "feeds"))
    return target


def feed_run(home: Path, source: str, raise_on_error: bool = True):
    """What the source's schedule runs: its fetch asset and everything downstream, reporting as of today."""
    from pipelines.definitions import defs, feed_assets

    job = defs.resolve_job_def(f"fetch_{source}_feed")
    return dg.materialize([*everything(), *feed_assets], selection=list(job.asset_layer.selected_asset_keys),
                          resources=make_resources(home, as_of=today().isoformat()), raise_on_error=raise_on_error)


def check(result, name: str):
    [evaluation] = [c for c in result.get_asset_check_evaluations() if c.check_name == name]
    return evaluation


def pay_figures(home: Path) -> dict:
    return {
        "snapshots": query(home, "SELECT file_name, date_updated, services, is_current_version FROM "
                                 "staging.pay_snapshots ORDER BY ALL"),
        "organisations": query(home, "SELECT * FROM staging.pay_organisation_services ORDER BY ALL"),
        "published": published(home, "SELECT * FROM marts.metric_series WHERE platform = 'GOV.UK Pay' "
                                      "ORDER BY ALL"),
    }


def published(home: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(home / "published" / "tracker.duckdb"), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def test_a_new_pay_document_is_fetched_staged_and_published_with_its_fetch_date(home, server, monkeypatch):
    body = new_pay_document()
    monkeypatch.setenv(url_variable("pay"), server.serve("/pay/new.json", Reply(body=body)))
    result = feed_run(home, "pay")
    assert result.success
    assert check(result, "pay_feed_fetched").passed
    [document] = stored_documents(home, "pay")
    fetched_on = document.fetched_at.date()

    row = query(home, "SELECT origin FROM raw.pay_files WHERE file_name = ?", [document.path.name])
    assert row == [("TRACKER_HOME/feeds/pay/",)]
    [(published_at, date_updated, services, current)] = query(
        home, "SELECT published_at, date_updated, services, is_current_version FROM staging.pay_snapshots "
              "WHERE file_name = ?", [document.path.name])
    assert published_at == document.fetched_at  # the fetch time, to the second, dates the version
    assert (date_updated, current) == (fetched_on, True)
    assert services == json.loads(PAY_BYTES)["numberOfServices"] + 1
    assert query(home, "SELECT live_services FROM staging.pay_organisation_services WHERE organisation_name = ?",
                 [NEW_ORGANISATION]) == [(1,)]
    shown = published(home, f"SELECT value FROM marts.metric_series WHERE metric = 'pay_live_services' "
                            f"AND date = DATE '{fetched_on.isoformat()}'")
    assert shown == [(float(services),)]

    # the same document again: nothing new kept, no new version, the log says unchanged
    before = pay_figures(home)
    again = feed_run(home, "pay")
    assert again.success and check(again, "pay_feed_fetched").passed
    assert len(stored_documents(home, "pay")) == 1
    assert [row["outcome"] for row in fetch_log(home, "pay")] == ["stored", "unchanged"]
    assert pay_figures(home) == before


def test_the_archived_bytes_fetched_count_once(home, server, monkeypatch):
    """A fetch of a version the archive already holds adds no version: the archive's dating stands."""
    monkeypatch.setenv(url_variable("pay"), server.serve("/pay/archived.json", Reply(body=PAY_BYTES)))
    before = query(home, "SELECT count(*) FROM staging.pay_snapshots")
    result = feed_run(home, "pay")
    assert result.success
    assert len(stored_documents(home, "pay")) == 1  # kept as fetched ...
    assert query(home, "SELECT count(*) FROM staging.pay_snapshots") == before  # ... but counted once
    assert query(home, "SELECT count(*) FROM raw.pay_files WHERE origin LIKE 'TRACKER_HOME%'") == [(0,)]


def forms_document(nested: bool = False, rename: dict[str, str] | None = None, **more: object) -> bytes:
    """CONSTRUCTED: the newest archived Forms figures as the page's JSON (no last_updated), one more live form."""
    metrics = yaml.safe_load(FORMS_YAML.read_text(encoding="utf-8"))["performance_metrics"]
    figures = {key: metrics[key] for key in ("organisations", "published", "submissions")}
    figures["published"] = int(figures["published"]) + 1
    figures = {(rename or {}).get(key, key): value for key, value in figures.items()} | more
    return json.dumps({"performance_metrics": figures} if nested else figures).encode()


def forms_figures(home: Path) -> list[tuple]:
    return query(home, "SELECT * FROM staging.forms_metrics ORDER BY ALL")


@pytest.mark.parametrize("nested", [False, True], ids=["top-level", "under-performance_metrics"])
def test_a_forms_document_is_read_and_dated_by_its_fetch(home, server, monkeypatch, nested):
    body = forms_document(nested=nested, an_unknown_new_key="ignored")
    monkeypatch.setenv(url_variable("forms"), server.serve(f"/forms/{nested}.json", Reply(body=body)))
    result = feed_run(home, "forms")
    assert result.success and check(result, "forms_feed_fetched").passed
    [document] = stored_documents(home, "forms")
    assert document.path.suffix == ".json"
    [(last_updated, snapshot_date, live_forms, current, published_at)] = query(
        home, "SELECT last_updated, snapshot_date, live_forms, is_current_version, published_at "
              "FROM staging.forms_metrics WHERE file_name = ?", [document.path.name])
    newest_archived = int(yaml.safe_load(FORMS_YAML.read_text(encoding="utf-8"))["performance_metrics"]["published"])
    assert live_forms == newest_archived + 1
    assert last_updated is None  # the page has no date of its own ...
    assert published_at == document.fetched_at and snapshot_date == document.fetched_at.date()  # ... the fetch dates it
    assert current
    assert published(home, "SELECT value FROM marts.metric_series WHERE metric = 'forms_live_forms' AND date = ?",
                     [snapshot_date]) == [(float(live_forms),)]
    assert query(home, "SELECT count(*) FROM quarantine.forms_feed_problems") == [(0,)]


@pytest.mark.parametrize("body, named", [
    (forms_document(rename={"published": "published_forms"}), "'published'"),
    (forms_document(rename={"submissions": "total_submissions"}), "'submissions'"),
    (b'{"organisations": 100, "published": "many", "submissions": 5}', "published"),
    (b"[1, 2, 3]", "not a key/value object"),
], ids=["renamed-published", "renamed-submissions", "not-a-number", "a-list"])
def test_a_forms_document_it_cannot_read_is_named_and_changes_no_figure(home, server, monkeypatch, body, named):
    before = forms_figures(home)
    monkeypatch.setenv(url_variable("forms"), server.serve(f"/forms/bad-{hash(body)}.json", Reply(body=body)))
    result = feed_run(home, "forms", raise_on_error=False)
    [document] = stored_documents(home, "forms")  # kept as fetched: valid JSON, so the fetch itself succeeded
    problems = query(home, "SELECT file_name, problem FROM quarantine.forms_feed_problems")
    assert [name for name, _ in problems] == [document.path.name]
    assert named in problems[0][1]
    assert forms_figures(home) == before  # every earlier figure kept; the bad document left out by name
    assert result.success


def test_a_failed_fetch_is_recorded_and_changes_no_figure(home, server, monkeypatch):
    monkeypatch.setenv(url_variable("pay"), server.serve("/pay/broken.json", Reply(status=500, body=b"oops",
                                                                                     content_type="text/plain")))
    before = pay_figures(home)
    result = feed_run(home, "pay", raise_on_error=False)
    assert result.success  # a failed fetch never fails the run
    evaluation = check(result, "pay_feed_fetched")
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "answered HTTP 500" in evaluation.description
    [materialisation] = [m for m in result.get_asset_materialization_events()
                         if m.asset_key == dg.AssetKey(["feeds", "pay_fetched"])]
    metadata = materialisation.materialization.metadata
    assert metadata["outcome"].value == "failed" and "HTTP 500" in metadata["reason"].value
    [logged] = fetch_log(home, "pay")
    assert logged["outcome"] == "failed" and "HTTP 500" in logged["problem"]
    assert stored_documents(home, "pay") == []
    assert pay_figures(home) == before


def test_each_feed_has_a_schedule_at_its_feeds_yaml_cron():
    from pipelines.definitions import defs

    configured = yaml.safe_load((DATA / "feeds.yaml").read_text(encoding="utf-8"))
    assert set(configured) == {"pay", "forms", "data_sharing", "notify"}
    for source, entry in configured.items():
        schedule = defs.resolve_schedule_def(f"fetch_{source}_feed")
        assert schedule.cron_schedule == entry["schedule"]
        assert schedule.execution_timezone == entry.get("timezone", "UTC")
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
        selected = defs.resolve_job_def(schedule.job_name).asset_layer.selected_asset_keys
        assert dg.AssetKey(["feeds", f"{source}_fetched"]) in selected
        assert dg.AssetKey(["published_snapshot"]) in selected
    refresh = defs.resolve_job_def("refresh_all").asset_layer.selected_asset_keys
    assert not [key for key in refresh if key.path[0] == "feeds"]  # `tracker run` and the demo never fetch


def test_notify_live_services_are_built_from_the_fetched_documents(home, server, monkeypatch):
    monkeypatch.setenv(url_variable("notify"), server.serve("/notify/performance.json",
                                                            Reply(body=NOTIFY_BYTES), Reply(body=b'{"not": "it"}')))
    first = feed_run(home, "notify")
    assert first.success and check(first, "notify_feed_fetched").passed
    [document] = stored_documents(home, "notify")

    rows = query(home, "SELECT organisation_name, live_services, published_rows, organisation_code, department_code, "
                       "fetched_at FROM staging.notify_live_services ORDER BY organisation_name")
    by_name = {name: rest for name, *rest in rows}
    assert len(rows) == 10  # eleven rows published, HM Revenue & Customs twice
    services, published_rows, code, department, fetched_at = by_name["HM Revenue & Customs"]
    assert (services, published_rows) == (43, 2)  # 40 + 3: the duplicate rows summed
    assert code and department and fetched_at == document.fetched_at
    assert by_name["Leeds City Council"][2:4] == [None, None]  # not a GOV.UK organisation: no department

    mart = query(home, "SELECT department_code, live_services, data_date FROM marts.notify_live_by_department")
    assert {data_date for *_, data_date in mart} == {document.fetched_at.date()}
    assert sum(n for _, n, _ in mart) == sum(r[1] for r in rows if r[4] is not None)
    assert dict((d, n) for d, n, _ in mart)[department] >= 43  # HMRC's department counts HMRC's 43
    assert published(home, "SELECT count(*) FROM marts.notify_live_by_department") == [(len(mart),)]
    league = dict(published(home, "SELECT department_code, notify_live_services FROM marts.department_league"))
    assert league[department] == dict((d, n) for d, n, _ in mart)[department]  # the league table shows it too

    # the Notify page shows them, dated by the fetch, and says where they come from
    page = notify_page(home, monkeypatch)
    top_department = published(home, "SELECT department_name FROM marts.notify_live_by_department "
                                     "ORDER BY live_services DESC, department_code LIMIT 1")[0][0]
    titles = [h.value for h in page.subheader]
    assert any(t.startswith(f"{top_department} runs the most live services on Notify") for t in titles), titles
    assert any("tracker's own fetches of GOV.UK Notify's performance page" in c.value for c in page.caption)
    assert any(f"data to {document.fetched_at:%-d %b %Y}" in m.value for m in page.markdown), \
        [m.value for m in page.markdown if "Source" in m.value]
    assert not any("appear once the Notify feed has been fetched" in i.value for i in page.info)

    # a later document that is JSON but not Notify's format: kept as fetched, left out and named; the figures stand
    second = feed_run(home, "notify")
    assert second.success
    assert len(stored_documents(home, "notify")) == 2
    [(file_name, problem)] = query(home, "SELECT file_name, problem FROM quarantine.notify_live_feed_problems")
    assert file_name == stored_documents(home, "notify")[-1].path.name
    assert "key" in problem
    assert query(home, "SELECT count(*) FROM staging.notify_live_services") == [(10,)]
    assert query(home, "SELECT department_code, live_services, data_date FROM marts.notify_live_by_department") == mart


def test_names_are_matched_only_once_a_document_lists_some(home, server, monkeypatch):
    """Without a Notify document the step makes no matcher (most of a second at national size); with one, it makes
    one for all the document's names."""
    import assets.notify_live
    from assets.notify_live import notify_live_services

    made = []

    class Counted(assets.notify_live.Matcher):
        def __init__(self, *args):
            made.append(args)
            super().__init__(*args)

    monkeypatch.setattr(assets.notify_live, "Matcher", Counted)
    alone = dg.materialize([notify_live_services], resources=make_resources(home, as_of=today().isoformat()))
    assert alone.success and made == []
    assert query(home, "SELECT count(*) FROM staging.notify_live_services") == [(0,)]

    monkeypatch.setenv(url_variable("notify"), server.serve("/notify/performance.json", Reply(body=NOTIFY_BYTES)))
    assert feed_run(home, "notify").success
    assert len(made) == 1
    [(names, matched)] = query(home, "SELECT count(*), count(organisation_code) FROM staging.notify_live_services")
    assert names == 10 and 0 < matched < names  # Leeds City Council is not a GOV.UK organisation


def test_without_a_fetch_the_notify_live_table_is_empty_and_the_mart_too(built, monkeypatch):
    assert query(built["home"], "SELECT count(*) FROM staging.notify_live_services") == [(0,)]
    assert query(built["home"], "SELECT count(*) FROM marts.notify_live_by_department") == [(0,)]
    page = notify_page(built["home"], monkeypatch)
    assert any("The live figures appear once the Notify feed has been fetched" in i.value for i in page.info)
    assert any("signed the data sharing agreement" in m.label for m in page.metric)  # the 2019 figures stay


def notify_page(home: Path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("TRACKER_HOME", str(home))
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("app_pages/notify.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at
