"""Each model's rules test (assets/dbt/tests/generic/rules.sql): one query that names every rule a model's rows
break and how many rows break it, run here as dbt compiled it in the session's build, against a copy of that
build's warehouse with faults planted in it."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from assets.marts import built_test_sql, describe_test, manifest, models, table_name


def rules_tests() -> dict[str, dict]:
    """Each model's rules test node, by the model's schema.table."""
    nodes = manifest()["nodes"]
    return {table_name(nodes[test["attached_node"]]): test for test in nodes.values()
            if test["resource_type"] == "test" and (test.get("test_metadata") or {}).get("name") == "rules"}


def sql_as_built(home: Path, test: dict, stage: str = "compiled") -> str:
    return built_test_sql(home, test, stage).read_text(encoding="utf-8")


@pytest.fixture()
def warehouse(built, tmp_path) -> duckdb.DuckDBPyConnection:
    """A copy of the build's warehouse, under the same name, which the compiled SQL uses for its catalog."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built["home"] / "warehouse.duckdb", copy)
    con = duckdb.connect(str(copy))
    yield con
    con.close()


def broken(con, home: Path, table: str) -> dict[str, int]:
    return dict(con.execute(sql_as_built(home, rules_tests()[table])).fetchall())


def test_every_model_has_one_rules_test_and_the_build_keeps_them_all(built, warehouse):
    tests = rules_tests()
    assert sorted(tests) == sorted(table_name(m) for m in models())
    assert [t["name"] for t in tests.values()] == [f"{t['attached_node'].split('.')[-1]}_rules"
                                                   for t in tests.values()]
    for table, test in tests.items():
        assert broken(warehouse, built["home"], table) == {}, table
        assert describe_test(test).endswith("."), table


def test_each_kind_of_rule_names_the_rows_that_break_it(built, warehouse):
    home, con = built["home"], warehouse
    con.execute("INSERT INTO marts.metric_series SELECT * FROM marts.metric_series ORDER BY metric, date LIMIT 3")
    con.execute("UPDATE marts.metric_series SET value = NULL "
                "WHERE (metric, date) IN (SELECT (metric, date) FROM marts.metric_series ORDER BY date DESC LIMIT 2)")
    con.execute("UPDATE marts.metric_series SET metric = 'no_such_metric' "
                "WHERE date = (SELECT max(date) FROM marts.metric_series WHERE metric = 'pay_live_services') "
                "AND metric = 'pay_live_services'")
    assert broken(con, home, "marts.metric_series") == {
        "key metric, date": 3,  # three key values repeated, each twice
        "not null value": 2,
        "reference metric to marts.metric_definitions.metric": 1,
    }

    con.execute("UPDATE marts.metric_definitions SET platform = 'GOV.UK Nothing' WHERE metric = 'pay_organisations'")
    assert broken(con, home, "marts.metric_definitions") == {"accepted platform": 1}

    con.execute("UPDATE marts.pay_monthly SET payments_not_shown = NULL WHERE payments_in_month IS NULL")
    con.execute("UPDATE marts.pay_monthly SET is_partial = true "
                "WHERE month IN (SELECT month FROM marts.pay_monthly ORDER BY month LIMIT 2)")
    assert broken(con, home, "marts.pay_monthly") == {
        "not null payments_not_shown where payments_in_month IS NULL": 1,
        "unique is_partial where is_partial": 1,  # one value (true) on three rows
    }

    con.execute("UPDATE marts.department_scorecard SET platforms_used = 7 "
                "WHERE department_code = (SELECT min(department_code) FROM marts.department_scorecard)")
    con.execute("UPDATE marts.department_scorecard SET organisation_type = NULL "  # empty is allowed
                "WHERE department_code = (SELECT max(department_code) FROM marts.department_scorecard)")
    assert broken(con, home, "marts.department_scorecard") == {"accepted platforms_used": 1}

    con.execute("UPDATE marts.department_league SET department_code = 'no-such-department' "
                "WHERE department_code = (SELECT min(department_code) FROM marts.department_league)")
    assert broken(con, home, "marts.department_league") == {
        "reference department_code to marts.department_scorecard.department_code": 1}

    con.execute("UPDATE marts.target_progress SET forecast_basis = 'at current rate' WHERE service_closed")
    con.execute("UPDATE marts.target_progress SET tracked_by = 'returns_not_a_measure' "  # from returns or not
                "WHERE target_id = (SELECT min(target_id) FROM marts.target_progress WHERE tracked_by IS NOT NULL)")
    con.execute("UPDATE marts.target_progress SET tracked_by = 'no_such_series' "
                "WHERE target_id = (SELECT max(target_id) FROM marts.target_progress WHERE tracked_by IS NOT NULL)")
    closed = con.execute("SELECT count(*) FROM marts.target_progress WHERE service_closed").fetchall()[0][0]
    assert closed > 0
    assert broken(con, home, "marts.target_progress") == {
        "accepted forecast_basis where service_closed": closed,
        "reference tracked_by to marts.metric_definitions.metric": 2,
    }

    # a reference checked unless its relation is empty: broken while the register has rows, not checked without
    con.execute("UPDATE marts.returns_status SET organisation_code = 'ZZ999' "
                "WHERE organisation_code = (SELECT min(organisation_code) FROM marts.returns_status)")
    rule = "reference organisation_code to staging.organisations.organisation_code"
    found = broken(con, home, "marts.returns_status")
    assert found.get(rule, 0) > 0, found
    con.execute("DELETE FROM staging.organisations")
    assert rule not in broken(con, home, "marts.returns_status")


def test_dbt_counts_every_row_that_breaks_a_rule_as_a_failure(built, warehouse):
    """dbt's failures for the test are the rows breaking its rules, summed, so the check's count is theirs."""
    home, con = built["home"], warehouse
    test = rules_tests()["marts.metric_series"]
    assert con.execute(sql_as_built(home, test, "run")).fetchall() == [(0, False, False)]
    con.execute("UPDATE marts.metric_series SET value = NULL, measure = NULL "
                "WHERE (metric, date) IN (SELECT (metric, date) FROM marts.metric_series ORDER BY date LIMIT 4)")
    assert con.execute(sql_as_built(home, test, "run")).fetchall() == [(8, True, True)]
