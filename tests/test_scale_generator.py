"""The scale generator (bench/generate.py): deterministic, in the real formats, and read by the real pipeline.

Each generated file is read with the parser the tracker's own asset uses, beside a real file of the same
source, and must give the same columns and types; every generated return is checked with the contract's own
validator (the good ones pass, each bad one fails for the reason it was made bad); and the small size runs
through ``tracker run`` end to end, its marts counted against the generator's manifest.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from assets.one_login import parse_events, parse_registry
from bench.generate import (
    AS_OF_NOTE,
    CHANNEL,
    MANIFEST,
    MARKER,
    SENDER,
    SIZES,
    ScaleSpec,
    checksum,
    deliver_exactly,
    generate,
)
from checks.return_contract import FIRST_QUARTER, open_quarters
from checks.return_validation import validate_return
from tracker.api_catalogue import parse_catalogue_version
from tracker.organisation_register import (
    ORGANISATIONS_TABLE,
    organisation_tables,
    parse_2017_list,
    parse_api_organisations,
)
from tracker.pay_snapshots import parse_pay_snapshot
from tracker.return_inbox import deliver, pending
from tracker.versions import parse_versions
from tracker.warehouse import SourceFile, read_source_files

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "data"
SEED = 20261203


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("generated") / "small"
    generate(out, "small", SEED)
    return out, json.loads((out / MANIFEST).read_text(encoding="utf-8"))


def _file(path: Path) -> SourceFile:
    return SourceFile(path, path.read_bytes())


def _shape(record: dict) -> dict[str, str]:
    return {k: type(v).__name__ for k, v in record.items()}


def test_same_seed_same_bytes_another_seed_other_bytes(small, tmp_path):
    out, _ = small
    again, other = tmp_path / "again", tmp_path / "other"
    generate(again, "small", SEED)
    generate(other, "small", SEED + 1)
    assert checksum(again) == checksum(out)
    assert checksum(other) != checksum(out)


def test_manifest_says_generated_and_counts(small):
    out, manifest = small
    assert "GENERATED" in manifest["note"] and manifest["seed"] == SEED
    assert manifest["environment"]["TRACKER_AS_OF_NOTE"] == AS_OF_NOTE
    counts = manifest["counts"]
    assert counts["organisations"] == SIZES["small"].organisations
    assert counts["pay_snapshots"] == len(list((out / "pay" / "snapshots").glob("*.json")))
    expected = collections.Counter(r["expected"] for r in manifest["returns"])
    assert (expected["accepted"], expected["rejected"], expected["duplicate"]) == (
        counts["returns_good"], counts["returns_bad"], counts["returns_duplicate"])
    assert counts["returns_files"] == sum(1 for f in (out / "inbox").rglob("*") if f.suffix in (".csv", ".xlsx"))
    assert counts["returns_xlsx"] >= 1  # the Excel template, filled in
    assert 0.01 <= counts["returns_bad"] / counts["returns_files"] <= 0.10  # 3-5% at scale; a small sample varies


def test_pay_snapshots_read_as_the_real_ones(small):
    out, _ = small
    real_path = sorted((REAL / "pay" / "snapshots").glob("*.json"))[-1]
    real = parse_pay_snapshot(_file(real_path))
    for path in sorted((out / "pay" / "snapshots").glob("*.json")):
        parsed = parse_pay_snapshot(_file(path))
        assert _shape(parsed) == _shape(real)
        # the real layout: json.dumps(indent=2, ensure_ascii=False), keys in the real order, names sorted
        text = path.read_text(encoding="utf-8")
        document = json.loads(text)
        assert json.dumps(document, indent=2, ensure_ascii=False) == text
        assert list(document) == list(json.loads(real_path.read_text(encoding="utf-8")))
        names = list(document["serviceCountByOrganisation"])
        assert names == sorted(names) and all(MARKER.lower() in n.lower() for n in names)
        assert abs(parsed["services"] - parsed["services_by_organisation_sum"]) <= 5  # the blocking check's tolerance
    real_versions, versions = REAL / "pay" / "versions.csv", out / "pay" / "versions.csv"
    assert versions.read_text().splitlines()[0] == real_versions.read_text().splitlines()[0]
    listed = parse_versions(_file(versions))
    assert set(listed) == {p.name for p in (out / "pay" / "snapshots").glob("*.json")}
    assert {type(v["published_at"]) for v in listed.values()} == {dt.datetime}


def test_catalogue_registry_and_events_read_as_the_real_ones(small):
    out, _ = small
    real = parse_catalogue_version(_file(sorted((REAL / "data_sharing" / "catalogue_versions").glob("2*.csv"))[-1]))
    folder = out / "data_sharing" / "catalogue_versions"
    for path in sorted(folder.glob("2*.csv")):
        parsed = parse_catalogue_version(_file(path))
        assert parsed["malformed_rows"] == 0
        assert {tuple(_shape(a)) for a in parsed["apis"]} == {tuple(_shape(real["apis"][0]))}
    assert (folder / "versions.csv").read_text().splitlines()[0] == (
        REAL / "data_sharing" / "catalogue_versions" / "versions.csv").read_text().splitlines()[0]
    for kind, parse in (("relying_party_registry_*.csv", parse_registry), ("registry_events_to_*.csv", parse_events)):
        real_path, path = next((REAL / "one_login").glob(kind)), next((out / "one_login").glob(kind))
        assert path.read_bytes().splitlines()[0] == real_path.read_bytes().splitlines()[0]
        assert b"\r\n" in path.read_bytes()  # CRLF, as the real files
        assert _shape(parse(_file(path))[0]) == _shape(parse(_file(real_path))[0])


def test_register_reads_as_the_real_one_and_is_marked_generated(small):
    out, _ = small
    real_api = next((REAL / "organisations").glob("govuk_api_organisations_*.json"))
    api = next((out / "organisations").glob("govuk_api_organisations_*.json"))
    text = api.read_text(encoding="utf-8")
    assert json.dumps(json.loads(text), indent=3, ensure_ascii=False, sort_keys=True, separators=(",", " : ")) + (
        "\n") == text
    assert list(parse_api_organisations(_file(api)).columns) == list(parse_api_organisations(_file(real_api)).columns)
    real_2017 = REAL / "organisations" / "govuk_organisations_list_2017-04.tsv"
    generated_2017 = out / "organisations" / "govuk_organisations_list_2017-04.tsv"
    assert list(parse_2017_list(_file(generated_2017)).columns) == list(parse_2017_list(_file(real_2017)).columns)
    tables = organisation_tables(read_source_files(out / "organisations", "*"), out)  # the alias file checked too
    bodies = tables[ORGANISATIONS_TABLE]
    assert bodies["name"].str.endswith(MARKER).all()
    assert bodies["organisation_slug"].str.startswith("gen-").all()
    assert bodies["organisation_code"].str.startswith("GEN").all()
    assert bodies["department_slug"].notna().mean() > 0.95


def test_every_return_passes_or_fails_for_the_reason_it_was_made(small):
    out, manifest = small
    spec = SIZES["small"]
    known = set(organisation_tables(read_source_files(out / "organisations", "*"), out)[ORGANISATIONS_TABLE]
                ["organisation_code"].dropna())
    seen = collections.Counter()
    for entry in manifest["returns"]:
        path = out / "inbox" / entry["organisation"] / entry["stored_name"]
        report = validate_return(path.read_bytes(), path.name, known, spec.as_of, submitter=entry["organisation"])
        rules = {p.rule for p in report.problems}
        if entry["expected"] == "rejected":
            assert entry["rule"] in rules, (entry, [p.describe() for p in report.problems])
            seen[entry["bad"]] += 1
        else:
            assert not rules, (entry, [p.describe() for p in report.problems])
            if entry["warning"]:
                rule = "file" if entry["warning"] == "windows_encoding" else entry["warning"]  # a file-wide warning
                assert rule in {w.rule for w in report.warnings}, (entry, [w.describe() for w in report.warnings])
                seen[entry["warning"]] += 1
    assert len([k for k in seen if k in ("wrong_quarter", "negative_number", "missing_column", "text_in_number",
                                         "wrong_organisation")]) >= 3
    assert seen["transactions_missing"] + seen["verify_after_closure"] + seen["windows_encoding"] > 0


def test_returns_are_delivered_exactly_as_deliver_writes_them(tmp_path):
    content = b"\xef\xbb\xbforganisation_code\r\nGEN00001\r\n"
    when = dt.datetime(2026, 1, 20, 9, 30, 5, tzinfo=dt.UTC)
    stored = deliver_exactly(tmp_path / "ours", content, "GEN00001_2025-26_Q3.csv", "GEN00001", when, "2025-26 Q3")
    theirs = deliver(tmp_path / "home", content, "GEN00001_2025-26_Q3.csv", "GEN00001", CHANNEL,
                     is_illustrative=True, now=when, sender=SENDER, reporting_quarter="2025-26 Q3")
    assert theirs.path.name == stored
    for name in (stored, stored + ".json"):
        assert (tmp_path / "ours" / "GEN00001" / name).read_bytes() == (theirs.path.parent / name).read_bytes()
    shutil.copytree(tmp_path / "ours", tmp_path / "home2" / "returns" / "inbox")
    [waiting] = pending(tmp_path / "home2")
    assert (waiting.reference, waiting.is_illustrative, waiting.refusal) == (theirs.reference, True, None)


def test_a_longer_history_widens_the_first_quarter_through_the_schedule_only(tmp_path, monkeypatch):
    spec = ScaleSpec(organisations=60, weeks=6, returners=4, quarters=42)
    out = tmp_path / "long"
    generate(out, spec, SEED)
    assert f'first_quarter: "{spec.first_quarter.label}"' in (out / "returns" / "schedule.yaml").read_text()
    assert open_quarters(spec.as_of)[0] == FIRST_QUARTER  # the shipped data: unchanged
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    first = next(r for r in manifest["returns"] if r["quarter"] == spec.first_quarter.label and not r["bad"])
    content = (out / "inbox" / first["organisation"] / first["stored_name"]).read_bytes()
    known = {first["organisation"]}
    refused = validate_return(content, "r.csv", known, spec.as_of, submitter=first["organisation"])
    assert {p.rule for p in refused.problems} == {"quarter_open"}
    assert FIRST_QUARTER in refused.problems[0].message
    monkeypatch.setenv("TRACKER_DATA_DIR", str(out))
    assert open_quarters(spec.as_of)[0] == spec.first_quarter.label
    assert not validate_return(content, "r.csv", known, spec.as_of, submitter=first["organisation"]).problems


def test_small_size_runs_through_the_real_pipeline(small, tmp_path):
    out, manifest = small
    home = tmp_path / "home"
    shutil.copytree(out / "inbox", home / "returns" / "inbox")
    as_of = SIZES["small"].as_of
    env = os.environ | {"TRACKER_DATA_DIR": str(out), "TRACKER_HOME": str(home),
                        "TRACKER_AS_OF_NOTE": manifest["environment"]["TRACKER_AS_OF_NOTE"]}
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--as-of", as_of.isoformat()], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    counts = manifest["counts"]
    published = json.loads((home / "published" / "manifest.json").read_text(encoding="utf-8"))
    assert "GENERATED" in published["as_of_note"]  # beside the reporting date on every dashboard page
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:  # the run is over: nobody writes
        def one(sql: str):
            return con.execute(sql).fetchone()[0]

        statuses = dict(con.execute("SELECT status, count(*) FROM marts.return_submissions GROUP BY 1").fetchall())
        assert statuses.get("accepted", 0) + statuses.get("accepted with warnings", 0) == counts["returns_good"]
        assert statuses.get("rejected", 0) == counts["returns_bad"]
        assert statuses.get("duplicate", 0) == counts["returns_duplicate"]
        assert one("SELECT bool_and(is_illustrative) FROM marts.return_submissions")
        rules = collections.Counter(dict(con.execute(
            "SELECT rule, count(DISTINCT submission_ref) FROM marts.return_problems GROUP BY 1").fetchall()))
        made = collections.Counter(r["rule"] for r in manifest["returns"] if r["expected"] == "rejected")
        assert all(rules[rule] >= n for rule, n in made.items()), (rules, made)
        assert one("SELECT count(*) FROM staging.pay_snapshots") == counts["pay_snapshots"]
        assert one("SELECT count(*) FROM marts.returns_status WHERE expected") == (
            counts["returners"] * counts["quarters"])
        assert one("SELECT count(*) FROM marts.organisation_adoption WHERE pay_live_services > 0") > 0.5 * (
            counts["organisations"] * 0.9 * 0.6)
        assert one("SELECT bool_and(organisation_name LIKE '%[generated]') FROM marts.organisation_adoption")
        assert one("SELECT count(*) FROM marts.metric_series WHERE platform = 'GOV.UK Pay'") > 0
        matched = one("SELECT max_by(matched_share, snapshot_date) FROM staging.organisation_match_coverage "
                      "WHERE platform = 'GOV.UK Pay'")
        assert 0.85 < matched < 1.0  # drift the matching resolves, and some it does not
