"""The whole graph on the shipped data: figures checked against the raw files, read independently."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import yaml

from tests.conftest import DATA
from tracker.warehouse import table_metadata

PAY = DATA / "pay" / "snapshots"


def test_whole_graph_materialises_and_blocking_checks_pass(built):
    result = built["result"]
    assert result.success
    failed = [c.check_name for c in result.get_asset_check_evaluations()
              if not c.passed and c.severity.value == "ERROR"]
    assert failed == []


def test_live_pay_services_in_last_2025_snapshot(warehouse):
    last = sorted(p for p in PAY.glob("2025-*.json"))[-1]
    published = json.loads(last.read_text())["numberOfServices"]
    value, = warehouse.execute(
        "SELECT value FROM marts.metric_series WHERE metric = 'pay_live_services' "
        "AND year(date) = 2025 ORDER BY date DESC LIMIT 1").fetchone()
    assert value == published == 1603


def test_pay_versions_deduplicated_the_version_published_last_wins(warehouse):
    by_date: dict[str, list[str]] = {}
    for path in sorted(PAY.glob("*.json")):
        by_date.setdefault(json.loads(path.read_text())["dateUpdated"], []).append(path.name)
    repeated = {d: names for d, names in by_date.items() if len(names) > 1}
    assert len(repeated) == 5  # the archive repeats five dateUpdated values
    rows = warehouse.execute(
        "SELECT count(*), count(*) FILTER (WHERE is_current_version) FROM staging.pay_snapshots").fetchone()
    assert rows == (240, len(by_date))
    with (PAY.parent / "versions.csv").open(newline="") as f:
        published = {r["file"]: r["published_at"] for r in csv.DictReader(f)}
    for names in repeated.values():
        current = warehouse.execute(
            "SELECT file_name FROM staging.pay_snapshots WHERE is_current_version AND file_name IN "
            f"({', '.join('?' * len(names))})", names).fetchall()
        # the version published last, which is not always the last by name (2023-01-05, 2025-02-10)
        assert current == [(max(names, key=lambda n: published[n]),)]
    # the organisation table holds exactly one version per dateUpdated
    versions = warehouse.execute(
        "SELECT count(DISTINCT date_updated) FROM staging.pay_organisation_services").fetchone()
    assert versions == (len(by_date),)


def test_pay_volumes_parsed_from_text(warehouse):
    first = json.loads((PAY / "2021-04-15_ff201b0c.json").read_text())
    assert first["numberOfPayments"] == "14.8 million" and first["totalPaymentAmount"] == "910.0 million"
    row = warehouse.execute(
        "SELECT payments_cumulative, amount_gbp_cumulative FROM staging.pay_snapshots "
        "WHERE file_name = '2021-04-15_ff201b0c.json'").fetchone()
    assert row == (14_800_000, 910_000_000)


def test_pay_monthly_flows_are_differences_of_cumulative_totals(warehouse):
    rows = warehouse.execute(
        "SELECT month, payments_cumulative, payments_in_month FROM marts.pay_monthly ORDER BY month").fetchall()
    assert rows[0][2] is None
    for (_, previous, _), (_, current, flow) in zip(rows, rows[1:], strict=False):
        assert flow == current - previous


def test_notify_signed_agreements(warehouse):
    register = yaml.safe_load((DATA / "notify" / "domains_2019-04-12.yml").read_text())
    signed = {r["owner"] for r in register.values() if isinstance(r, dict) and r.get("agreement_signed")}
    count, = warehouse.execute(
        "SELECT count(*) FROM staging.notify_organisations WHERE agreement_signed").fetchone()
    assert count == len(signed) == 207


def test_verify_total_accounts(warehouse):
    with open(DATA / "verify" / "accounts_created_by_financial_year.csv") as f:
        total = sum(int(r["verify_accounts_created"]) for r in csv.DictReader(f))
    value, = warehouse.execute(
        "SELECT max(value) FROM marts.metric_series WHERE metric = 'verify_accounts_cumulative'").fetchone()
    assert value == total == 10_119_013


LAST_CATALOGUE = sorted((DATA / "data_sharing" / "catalogue_versions").glob("2*.csv"))[-1]


def test_apis_in_catalogue(warehouse):
    with open(LAST_CATALOGUE, newline="") as f:
        apis = sum(1 for _ in csv.DictReader(f))
    value, = warehouse.execute(
        "SELECT max(value) FROM marts.metric_series WHERE metric = 'apis_published'").fetchone()
    assert value == apis == 242


def test_forms_latest_live_forms(warehouse):
    last = sorted((DATA / "forms" / "snapshots").glob("*.yml"))[-1]
    published = yaml.safe_load(last.read_text())["performance_metrics"]["published"]
    value, = warehouse.execute(
        "SELECT arg_max(value, date) FROM marts.metric_series WHERE metric = 'forms_live_forms'").fetchone()
    assert value == published


def test_one_login_services_exclude_internal_clients(warehouse):
    with open(DATA / "one_login" / "relying_party_registry_2025-12-31.csv") as f:
        rows = list(csv.DictReader(f))
    internal = {"govuk", "govukApp", "oneLoginHome", "ipvReturn", "relyingPartyStub",
                "securityTokenService", "smokeTests"}
    expected = sum(1 for r in rows if r["client_key"] not in internal and r["is_offboarded"] == "false")
    value, = warehouse.execute(
        "SELECT arg_max(value, date) FROM marts.metric_series WHERE metric = 'one_login_services_onboarded' "
        "AND date <= DATE '2026-01-31'").fetchone()
    assert value == expected


def test_raw_files_kept_byte_for_byte(built, warehouse):
    from tracker.raw_store import read_kept, store_of

    path = PAY / "2025-12-22_73bfaefd.json"
    sha256, = warehouse.execute(
        "SELECT sha256 FROM raw.source_files WHERE source = 'pay' AND file_name = ?", [path.name]).fetchone()
    assert store_of(warehouse) == Path(built["home"]) / "raw"
    assert (Path(built["home"]) / "raw" / "pay" / sha256).read_bytes() == path.read_bytes()
    assert read_kept(store_of(warehouse), "pay", path.name, sha256) == path.read_bytes()
    kept = {(s, h) for s, h in warehouse.execute("SELECT source, sha256 FROM raw.source_files").fetchall()}
    on_disk = {(p.parent.name, p.name) for p in (Path(built["home"]) / "raw").glob("*/*")}
    assert kept == on_disk  # every file listed has its bytes kept, and nothing else is there
    files, = warehouse.execute("SELECT count(*) FROM raw.source_files").fetchone()
    shipped = sum(1 for p in DATA.rglob("*") if p.is_file() and p.parent.name != "data"
                  and p.relative_to(DATA).parts[0] not in ("returns", "targets")  # the inbox; reference lists
                  and p.relative_to(DATA).as_posix() != "skills/department_names.yaml")  # curated, not an archive
    assert files == shipped  # every shipped archive file


def test_published_snapshot_is_readable_and_matches_marts(built, warehouse):
    published = Path(built["home"]) / "published"
    manifest = json.loads((published / "manifest.json").read_text())
    con = duckdb.connect(str(published / "tracker.duckdb"), read_only=True)
    try:
        for table, count in manifest["tables"].items():
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == count
            if not table.startswith("meta."):  # meta.* is written into the snapshot only
                assert warehouse.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == count
        assert con.execute("SELECT version FROM meta.snapshot").fetchone()[0] == manifest["version"]
    finally:
        con.close()
    assert not list(published.glob(".*.tmp"))


def test_pay_sector_counts_at_month_end(warehouse):
    last = json.loads((PAY / "2025-12-22_73bfaefd.json").read_text())["serviceCountBySector"]
    rows = dict(warehouse.execute(
        "SELECT sector, live_services FROM marts.pay_sector_monthly WHERE month = DATE '2025-12-01'").fetchall())
    assert rows == last


def test_catalogue_checks_report_what_the_real_catalogue_gets_wrong(built):
    with open(LAST_CATALOGUE, newline="") as f:
        rows = list(csv.DictReader(f))
    blank_urls = sum(1 for r in rows if not r["url"].strip())
    listed_twice = len(rows) - len({(r["provider"], r["name"], r["url"]) for r in rows})
    results = {c.check_name: c for c in built["result"].get_asset_check_evaluations()}
    assert results["api_catalogue_urls_present"].metadata["rows breaking the rule"].value == blank_urls == 11
    assert results["api_catalogue_apis_listed_once"].passed == (listed_twice == 0)


def test_a_preview_shows_binary_as_its_size_and_cuts_long_text():
    """A BLOB comes out of DuckDB as a bytearray, which the preview once printed whole and escaped (ten national
    return files: a 1.5 MB event in Dagster's storage every run)."""
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE files (name VARCHAR, content BLOB, note VARCHAR)")
    con.execute("INSERT INTO files VALUES ('a.xlsx', ?, ?), ('b.csv', ?, NULL)",
                [b"\x00\xff" * 50_000, "n" * 500, b"x"])
    preview = table_metadata(con, "files")["preview"].value
    assert "(100,000 bytes)" in preview and "(1 byte)" in preview
    assert "n" * 60 + "…" in preview and "n" * 61 not in preview
    assert len(preview) < 1_000


def test_no_materialisation_carries_a_files_bytes_in_its_metadata(built):
    sizes = {}
    for event in built["result"].get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        sizes[materialization.asset_key.to_user_string()] = len(repr(materialization.metadata))
    assert sizes["raw/return_files"] < 20_000
    assert max(sizes.values()) < 64_000, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
