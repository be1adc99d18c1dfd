"""Every dashboard page, run with Streamlit's AppTest on the snapshot published from the shipped data:
no exception, and the figures it shows are the marts' figures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.components import number, percent, status_text

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def snapshot(built):
    """The published snapshot of the demo's run, opened read-only to read the expected figures."""
    con = duckdb.connect(str(Path(built["home"]) / "published" / "tracker.duckdb"), read_only=True)
    yield con
    con.close()


@pytest.fixture()
def app(built, monkeypatch):
    monkeypatch.setenv("TRACKER_HOME", str(built["home"]))

    def run(page: str | None = None, **query) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params.update(query)
        at.run()
        if page:
            at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        return at

    return run


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def texts(at: AppTest) -> str:
    return "\n".join([*(m.value for m in at.markdown), *(h.value for h in at.subheader), *(h.value for h in at.header)])


def headline(snapshot, metric: str):
    return snapshot.execute("SELECT * FROM marts.platform_headlines WHERE metric = ?", [metric]).df().iloc[0]


def test_overview_shows_every_platform_headline_and_target(app, snapshot):
    at = app()
    shown = metrics(at)
    headlines = snapshot.execute("SELECT * FROM marts.platform_headlines WHERE is_headline").df()
    assert len(headlines) == 6
    for row in headlines.itertuples():
        assert shown[f"{row.platform}: {row.measure}"] == number(row.latest_value)
    assert shown["GOV.UK Pay: live services"] == "1,603"
    page = texts(at)
    targets = snapshot.execute("SELECT title, status, counts_in_headline FROM marts.target_progress").df()
    for target in targets.itertuples():
        assert target.title in page
    # the headline counts only targets judged on published figures; the illustrative ones are listed apart
    for status, count in targets[targets["counts_in_headline"]]["status"].value_counts().items():
        assert f"{status_text(status)}</strong> {count}" in page
    apart = targets[~targets["counts_in_headline"]]
    assert len(apart) == 1 and "counted apart" in page
    assert f"{status_text(apart['status'].iloc[0])}</strong> {apart['title'].iloc[0]}" in page
    # a measured target shows its trajectory chart under a headline with the status
    one_login = snapshot.execute("SELECT * FROM marts.target_progress WHERE target_id = 'one-login-160-more-2028'"
                                 ).df().iloc[0]
    assert any(status_text(one_login["status"]) in h.value and "against" in h.value for h in at.subheader)
    assert len(at.get("vega_lite_chart")) >= 4


def test_pay_page(app, snapshot):
    at = app("pay")
    assert metrics(at)["GOV.UK Pay: live services"] == number(headline(snapshot, "pay_live_services").latest_value)
    leader = snapshot.execute("""
        SELECT department_name, sum(value) AS v FROM marts.adoption_by_department_month
        WHERE platform = 'GOV.UK Pay' AND measure = 'live services' AND department_name IS NOT NULL
          AND month = (SELECT max(month) FROM marts.adoption_by_department_month WHERE platform = 'GOV.UK Pay')
        GROUP BY 1 ORDER BY v DESC LIMIT 1""").fetchone()
    assert any(h.value.startswith(f"{leader[0]} leads on GOV.UK Pay live services: {number(leader[1])}")
               for h in at.subheader)
    mover = snapshot.execute("SELECT department_name, change FROM marts.department_movers WHERE platform = "
                             "'GOV.UK Pay' AND measure = 'live services' ORDER BY change DESC, department_name "
                             "LIMIT 1").fetchone()
    assert any(h.value == f"{mover[0]} moved most on GOV.UK Pay live services: {number(mover[1])} more"
               for h in at.subheader)
    assert "stale" in texts(at)  # Pay's data (22 Dec 2025) is 40 days old on 31 Jan 2026: more than 14


def test_notify_page_says_its_figures_stopped_in_2019(app, snapshot):
    at = app("notify")
    assert metrics(at)["GOV.UK Notify: organisations that signed the data sharing agreement"] == "207"
    assert "no longer published" in texts(at)
    assert any("one month only" in i.value for i in at.info)


def test_one_login_page_with_verify_history(app, snapshot):
    at = app("one_login")
    shown = metrics(at)
    assert shown["GOV.UK One Login: services onboarded"] == number(
        headline(snapshot, "one_login_services_onboarded").latest_value)
    assert shown["GOV.UK Verify: accounts created since 2014"] == "10.1 million"
    plans = snapshot.execute("SELECT * FROM marts.return_department_plans ORDER BY quarter_end DESC").df().iloc[0]
    assert f"**{plans.departments_with_plan} of {plans.expected_departments}**" in texts(at)
    assert "ILLUSTRATIVE" in texts(at)


def test_forms_page(app, snapshot):
    at = app("forms")
    assert metrics(at)["GOV.UK Forms: live forms"] == "344"
    overall = snapshot.execute("SELECT * FROM marts.return_forms WHERE level = 'all returning organisations' "
                               "ORDER BY quarter_end DESC").df().iloc[0]
    assert any(h.value.startswith(f"{percent(overall.forms_online_share, 0)} of returning organisations' forms")
               for h in at.subheader)


def test_data_sharing_page(app, snapshot):
    at = app("data_sharing")
    assert metrics(at)["Data sharing: APIs in the API catalogue"] == "242"
    assert any(h.value.startswith("242 APIs in the cross-government catalogue") for h in at.subheader)
    returned = snapshot.execute("SELECT count(*) FROM marts.return_forms WHERE level = 'department'").fetchone()[0]
    assert len(at.dataframe[-1].value) == returned


def test_league_table_filters(app, snapshot):
    at = app("departments")
    league = snapshot.execute("SELECT * FROM marts.department_league").df()
    assert any(h.value == f"{len(league)} of {len(league)} departments" for h in at.subheader)
    at.selectbox(key="behind").select("its returned Pay figures differ from GOV.UK Pay's").run()
    differing = league[league["reconciliation_differences"] > 0]
    assert any(h.value == f"{len(differing)} of {len(league)} departments" for h in at.subheader)
    assert list(at.dataframe[0].value["department_name"]) == list(differing["department_name"])
    at.selectbox(key="behind").select("every department").run()
    at.text_input(key="search").input("transport").run()
    assert list(at.dataframe[0].value["department_code"]) == ["D9"]


def test_department_page(app, snapshot):
    at = app("department", department="D9")
    row = snapshot.execute("SELECT * FROM marts.department_league WHERE department_code = 'D9'").df().iloc[0]
    shown = metrics(at)
    assert shown["GOV.UK Pay live services"] == number(row.pay_live_services)
    assert shown["Adoption rate from returns"] == percent(row.returned_adoption_rate)
    assert at.title[0].value == "Department for Transport"
    # DVLA reported 9 live Pay services where GOV.UK Pay shows 6: the reconciliation table says so
    reconciliation = [d.value for d in at.dataframe if "reported_live" in d.value.columns][0]
    dvla = reconciliation[reconciliation["organisation_name"] == "Driver and Vehicle Licensing Agency"].iloc[0]
    assert (dvla.reported_live, dvla.published_live) == (9, 6)
    peers = [d.value for d in at.dataframe if "peer_figure" in d.value.columns][0]
    assert "Department for Transport" not in set(peers["peer_department"])


def test_department_page_without_a_choice_asks_for_one(app):
    at = app("department")
    assert at.selectbox(key="department").value is None
    assert "Choose a department" in at.info[0].value
    at.selectbox(key="department").select("D10").run()
    assert at.title[0].value == "Department for Work and Pensions"


def test_returns_page(app, snapshot):
    at = app("returns")
    current = snapshot.execute("SELECT * FROM marts.returns_status WHERE is_current_quarter AND expected").df()
    shown = metrics(at)
    rejected = current["status"].str.startswith("rejected")
    assert int(rejected.sum()) == 1  # Home Office, as of 31 January 2026
    assert shown[status_text("rejected")] == "1"
    for status in ("received", "received late", "missing"):
        assert shown[status_text(status)] == str(int((current["status"] == status).sum()))
    chasing = at.dataframe[0].value
    assert len(chasing) == int(current["needs_chasing"].sum())
    # not signed in: the rejection is counted, but what the department sent is not shown
    problems = snapshot.execute("SELECT message FROM marts.return_problems").df()
    assert any("not shown to you" in m.value for m in at.markdown)
    assert not any(p in texts(at) for p in problems["message"])


def signed_in(at: AppTest, email: str) -> AppTest:
    """The app as someone signed in through a configured provider (the claims st.login would give)."""
    at.secrets["auth"] = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "tracker", "client_secret": "secret",
                          "server_metadata_url": "http://127.0.0.1:1/.well-known/openid-configuration"}
    at.user = {"is_logged_in": True, "email": email, "email_verified": True, "sub": email}
    return at


@pytest.fixture()
def access_file(tmp_path, monkeypatch):
    path = tmp_path / "access.yaml"
    path.write_text("people:\n  - email: analyst@example.com\n    role: central analyst\n"
                    "  - email: ho@example.com\n    role: department submitter\n    organisations: [D16]\n"
                    "  - email: dwp@example.com\n    role: department submitter\n    organisations: [D10]\n")
    monkeypatch.setenv("TRACKER_ACCESS_FILE", str(path))
    return path


@pytest.mark.parametrize("email, sees", [("analyst@example.com", True), ("ho@example.com", True),
                                         ("dwp@example.com", False)])
def test_returns_page_shows_what_was_sent_only_to_the_department_and_cddo(built, monkeypatch, access_file, snapshot,
                                                                         email, sees):
    monkeypatch.setenv("TRACKER_HOME", str(built["home"]))
    at = signed_in(AppTest.from_file(APP, default_timeout=60), email)
    at.run()
    at.switch_page("app_pages/returns.py").run()
    assert not at.exception, [e.value for e in at.exception]
    from dashboard.components import plain  # a sender's values in messages are shown as plain text

    problems = snapshot.execute("SELECT message FROM marts.return_problems WHERE organisation_code = 'D16'").df()
    assert len(problems) >= 1  # the Home Office's rejected sample
    shown = [any(plain(p) in m.value for m in at.markdown) for p in problems["message"]]
    assert all(shown) if sees else not any(shown)
    assert any("Home Office" in m.value and "rejected" in m.value for m in at.markdown) == sees


def test_data_quality_page(app, snapshot):
    at = app("data_quality")
    from pipelines.definitions import defs

    checks = snapshot.execute("SELECT * FROM meta.check_results").df()
    graph = defs.resolve_asset_graph()
    run = [key for key in graph.asset_check_keys if graph.get(key.asset_key).group_name != "feeds"]  # never fetched
    assert len(checks) == len(run) > 31  # 31 Python checks and dbt's tests, all but the live feeds' (run on schedule)
    tables = {tuple(d.value.columns[:3]): d.value for d in at.dataframe}
    assert len(tables[("check_name", "asset", "description")]) == len(checks)
    sources = snapshot.execute("SELECT * FROM marts.sources").df()
    assert len(tables[("source", "name", "platforms")]) == len(sources)
    assert "GOV.UK Notify domain register" in texts(at)
    assert "ILLUSTRATIVE" in texts(at)  # the quarantine and returns' quality figures come from the samples
    rejected = snapshot.execute("SELECT count(*) FROM marts.return_submissions WHERE status = 'rejected'").fetchone()[0]
    assert f"{rejected} rejected {'return is' if rejected == 1 else 'returns are'}** kept in full" in texts(at)


def test_missing_snapshot_is_a_plain_message(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "No published figures were found" in at.error[0].value


def test_a_new_snapshot_is_read_without_restarting(built, tmp_path, monkeypatch):
    """The cache is keyed by the snapshot's version: a newly published file is shown on the next rerun."""
    home = tmp_path / "home"
    shutil.copytree(Path(built["home"]) / "published", home / "published")
    monkeypatch.setenv("TRACKER_HOME", str(home))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert at.metric[0].value == "242"
    con = duckdb.connect(str(home / "published" / "tracker.duckdb"))
    con.execute("UPDATE marts.platform_headlines SET latest_value = 999 WHERE metric = 'apis_published'")
    con.close()
    at.run()
    assert at.metric[0].value == "242", "same version: the cached figure is shown"
    manifest = json.loads((home / "published" / "manifest.json").read_text())
    manifest["version"] += "-next"
    (home / "published" / "manifest.json").write_text(json.dumps(manifest))
    at.run()
    assert at.metric[0].value == "999"


def test_table_headings_carry_the_marts_column_descriptions(app, snapshot):
    """The dbt project's description of each column is the help on its heading (published with the snapshot)."""
    at = app("returns")
    described = dict(snapshot.execute("SELECT column_name, description FROM meta.column_descriptions "
                                      "WHERE table_name = 'marts.return_submissions'").fetchall())
    assert described["submission_ref"] and described["is_superseded"]
    helps = [d.proto.columns for d in at.dataframe]
    assert any(described["is_superseded"] in str(columns) for columns in helps)
