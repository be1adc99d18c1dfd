"""Bad or surprising feed content fails the asset with a message naming the file and the problem,
and nothing already stored is lost."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import pytest

from assets import forms, one_login, pay
from pipelines.cli import failure_messages
from tests.conftest import make_resources

GOOD = {
    "dateUpdated": "5 January 2026",
    "numberOfPayments": "124.0 million",
    "totalPaymentAmount": "8.2 billion",
    "numberOfServices": 2,
    "numberOfOrganisations": 1,
    "serviceCountBySector": {"central": 2},
    "serviceCountByOrganisation": {"Companies House": 2},
}


def run(assets, home, data):
    return dg.materialize(assets, resources=make_resources(home, data), raise_on_error=False)


@pytest.fixture()
def pay_home(tmp_path, data_copy):
    """A warehouse where the Pay feed has already been loaded once, successfully."""
    home = tmp_path / "home"
    assert run([pay.pay_files, pay.pay_staging], home, data_copy).success
    return home


def counts(home):
    con = duckdb.connect(str(home / "warehouse.duckdb"))  # same settings as the run's, in this process
    try:
        return (
            con.execute("SELECT count(*) FROM staging.pay_snapshots").fetchone()[0],
            con.execute("SELECT count(*) FROM raw.pay_files").fetchone()[0],
        )
    finally:
        con.close()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ({k: v for k, v in GOOD.items() if k != "numberOfServices"}, "has no 'numberOfServices'"),
        (GOOD | {"numberOfPayments": "about 124 million"}, "'numberOfPayments' is 'about 124 million'"),
        (GOOD | {"serviceCountByOrganisation": {}}, "'serviceCountByOrganisation' is empty"),
        (GOOD | {"numberOfServices": -3}, "cannot be negative"),
        (GOOD | {"dateUpdated": "sometime in January"}, "'dateUpdated' is 'sometime in January'"),
        ("", "the file is empty"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_pay_snapshot_fails_with_file_and_problem_and_loses_nothing(pay_home, data_copy, content, problem):
    before_staging, before_raw = counts(pay_home)
    name = "2026-01-05_deadbeef.json"
    (data_copy / "pay" / "snapshots" / name).write_text(
        content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    result = run([pay.pay_files, pay.pay_staging], pay_home, data_copy)
    assert not result.success
    messages = failure_messages(result)
    assert len(messages) == 1
    assert name in messages[0] and problem in messages[0], messages[0]
    assert "Traceback" not in messages[0]
    after_staging, after_raw = counts(pay_home)
    assert after_staging == before_staging  # the last good tables are untouched
    assert after_raw == before_raw + 1  # and the bad file itself is kept, byte for byte


def test_a_good_new_snapshot_is_taken_in(pay_home, data_copy):
    before_staging, _ = counts(pay_home)
    (data_copy / "pay" / "snapshots" / "2026-01-05_cafef00d.json").write_text(json.dumps(GOOD))
    assert run([pay.pay_files, pay.pay_staging], pay_home, data_copy).success
    assert counts(pay_home)[0] == before_staging + 1


def test_empty_feed_folder_fails_clearly(tmp_path, data_copy):
    for path in (data_copy / "pay" / "snapshots").glob("*.json"):
        path.unlink()
    result = run([pay.pay_files, pay.pay_staging], tmp_path / "home", data_copy)
    assert not result.success
    assert "No input files matching '*.json'" in failure_messages(result)[0]


def test_forms_snapshot_without_metrics(tmp_path, data_copy):
    (data_copy / "forms" / "snapshots" / "2026-01-05_0000.yml").write_text("something_else: 1\n")
    result = run([forms.forms_files, forms.forms_metrics], tmp_path / "home", data_copy)
    assert "2026-01-05_0000.yml" in failure_messages(result)[0]
    assert "has no 'performance_metrics'" in failure_messages(result)[0]


def test_one_login_registry_missing_a_column(tmp_path, data_copy):
    path = data_copy / "one_login" / "relying_party_registry_2025.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    result = dg.materialize([one_login.one_login_files, one_login.one_login_services],
                            resources=make_resources(tmp_path / "home", data_copy), raise_on_error=False)
    message = failure_messages(result)[0]
    assert "relying_party_registry_2025.csv" in message and "'first_added_to_registry'" in message
