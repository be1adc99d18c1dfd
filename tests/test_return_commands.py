"""`tracker validate`, `submit` and `template` as a department would run them, and the templates themselves."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys

import openpyxl
import pytest

from checks.return_contract import COLUMN_NAMES, GUIDANCE_SHEET, TEMPLATE_SHEET
from checks.return_templates import CSV_TEMPLATE, XLSX_TEMPLATE, csv_template, guidance_rows, xlsx_template
from tests.conftest import DATA, PROJECT
from tests.returns_helpers import VALID, check, row

SAMPLES = DATA / "returns" / "samples"
TEMPLATES = DATA / "returns" / "template"


def tracker(*args: str, home=None) -> subprocess.CompletedProcess:
    env = os.environ | {"TRACKER_AS_OF": "2026-01-31"}
    if home:
        env["TRACKER_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True,
                          cwd=PROJECT, env=env, timeout=300)


def test_validate_a_valid_and_an_invalid_return(tmp_path):
    good = tracker("validate", str(SAMPLES / "ILLUSTRATIVE_D10_2025-26_Q3.xlsx"), home=tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "the return is valid: Department for Work and Pensions (D10), 2025-26 Q3" in good.stdout
    bad = tracker("validate", str(SAMPLES / "ILLUSTRATIVE_D16_2025-26_Q3.csv"), home=tmp_path)
    assert bad.returncode == 1
    assert "there are 2 problems" in bad.stdout
    assert "Row 2, column X (forms_online): 'twelve' is not a whole number." in bad.stdout
    assert "Traceback" not in bad.stdout + bad.stderr


def test_validate_for_a_sender_the_tracker_does_not_know_says_so(tmp_path):
    sample = str(SAMPLES / "ILLUSTRATIVE_D10_2025-26_Q3.xlsx")
    unknown = tracker("validate", sample, "--organisation", "XYZ", home=tmp_path)
    assert unknown.returncode == 2
    said = unknown.stdout
    assert "'XYZ' is not a GOV.UK organisation code the tracker knows (like D10). Nothing was checked." in said
    assert "sent by XYZ" not in unknown.stdout
    known = tracker("validate", sample, "--organisation", "d10", home=tmp_path)
    assert known.returncode == 0, known.stdout


def test_validate_an_empty_file_and_a_missing_one(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = tracker("validate", str(empty), home=tmp_path)
    assert result.returncode == 1 and "The file is empty (0 bytes)" in result.stdout
    missing = tracker("validate", str(tmp_path / "nope.csv"), home=tmp_path)
    assert missing.returncode == 1 and "there is no file" in missing.stdout
    assert "Traceback" not in result.stderr + missing.stderr


def test_submit_puts_the_file_in_the_organisations_inbox(tmp_path):
    sample = SAMPLES / "ILLUSTRATIVE_D10_2025-26_Q2.csv"
    result = tracker("submit", str(sample), "--organisation", "d10", home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Your reference is R-" in result.stdout and "What happens next" in result.stdout
    stored = [p for p in (tmp_path / "returns" / "inbox" / "D10").iterdir() if not p.name.endswith(".json")]
    assert len(stored) == 1 and stored[0].read_bytes() == sample.read_bytes()
    refused = tracker("submit", str(sample), "--organisation", "NOPE1", home=tmp_path)
    assert refused.returncode == 2 and "Nothing was submitted" in refused.stderr + refused.stdout


def test_submit_checks_the_return_first_and_sends_nothing_with_problems(tmp_path):
    """As the upload page does: a return the run would reject is not delivered; its problems are listed now."""
    sample = (SAMPLES / "ILLUSTRATIVE_D10_2025-26_Q2.csv").read_bytes().decode("utf-8-sig").splitlines()
    header, row = sample[0], sample[1].split(",")
    cells = dict(zip(header.split(","), row, strict=True))
    broken = tmp_path / "broken.csv"
    broken.write_text(header + "\n" + ",".join("=1+1" if name == "pay_services_live" else value
                                                for name, value in cells.items()) + "\n", encoding="utf-8")
    refused = tracker("submit", str(broken), "--organisation", "D10", home=tmp_path)
    said = refused.stdout + refused.stderr
    assert refused.returncode == 1, said
    assert "Nothing was submitted: fix each one and submit it again" in said and "'=1+1'" in said
    assert not (tmp_path / "returns" / "inbox" / "D10").exists() or not any(
        (tmp_path / "returns" / "inbox" / "D10").iterdir())
    another = tracker("submit", str(SAMPLES / "ILLUSTRATIVE_EA73_2025-26_Q2.csv"), "--organisation", "D10",
                      home=tmp_path)  # another organisation's return, sent as D10: refused as the page refuses it
    assert another.returncode == 1 and "Nothing was submitted" in another.stdout
    assert "Traceback" not in said + another.stderr


def test_the_shipped_templates_are_the_generated_ones():
    assert (TEMPLATES / CSV_TEMPLATE).read_bytes().decode("utf-8-sig") == csv_template()
    book = openpyxl.load_workbook(TEMPLATES / XLSX_TEMPLATE)
    assert [c.value for c in book[TEMPLATE_SHEET][1]] == COLUMN_NAMES
    guidance = [[c.value or "" for c in r] for r in book[GUIDANCE_SHEET].iter_rows(min_row=4)]
    assert guidance == guidance_rows()
    validations = book[TEMPLATE_SHEET].data_validations.dataValidation
    assert len(validations) == len(COLUMN_NAMES)  # every column has a rule and an input message
    kinds = {str(v.sqref): v.type for v in validations}
    assert kinds["B2"] == "list" and kinds["A2"] == "list" and kinds["L2"] == "whole"


def test_a_template_filled_in_is_accepted_and_a_blank_one_says_so():
    content = xlsx_template([("D10", "Department for Work and Pensions")], dt.date(2026, 1, 15))
    book = openpyxl.load_workbook(io.BytesIO(content))
    blank = io.BytesIO()
    book.save(blank)
    assert "header row but no figures" in check(blank.getvalue(), "t.xlsx").problems[0].message
    for i, name in enumerate(COLUMN_NAMES, start=1):
        value = VALID[name]
        book[TEMPLATE_SHEET].cell(row=2, column=i, value=int(value) if value.isdigit() else (value or None))
    filled = io.BytesIO()
    book.save(filled)
    assert check(filled.getvalue(), "t.xlsx").status == "accepted"
    csv_filled = csv_template() + ",".join(f'"{v}"' for v in row().values()) + "\r\n"
    assert list(csv.reader(io.StringIO(csv_filled)))[0] == COLUMN_NAMES
    assert check(csv_filled.encode("utf-8-sig")).status == "accepted"


def test_validate_does_not_import_great_expectations(tmp_path):
    """`tracker validate` checks a return with the native evaluator: Great Expectations (seconds) is never loaded."""
    env = os.environ | {"TRACKER_AS_OF": "2026-01-31", "TRACKER_HOME": str(tmp_path)}
    for sample, code in (("ILLUSTRATIVE_D10_2025-26_Q3.xlsx", 0), ("ILLUSTRATIVE_D16_2025-26_Q3.csv", 1),
                         ("ILLUSTRATIVE_EA73_2025-26_Q2.csv", 0)):
        result = subprocess.run([sys.executable, "-X", "importtime", "-m", "pipelines.cli", "validate",
                                 str(SAMPLES / sample)], capture_output=True, text=True, cwd=PROJECT, env=env,
                                timeout=300)
        assert result.returncode == code, result.stdout + result.stderr[-2000:]
        imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                    if line.startswith("import time:")}
        assert "checks.return_rules" in imported  # the -X importtime listing is there, and the evaluator ran
        assert not {name for name in imported if name.split(".")[0] == "great_expectations"}, sample



def imported_by(*args: str, home) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run a tracker command under -X importtime; the top-level packages it imported."""
    env = os.environ | {"TRACKER_AS_OF": "2026-01-31", "TRACKER_HOME": str(home)}
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "pipelines.cli", *args], capture_output=True,
                            text=True, cwd=PROJECT, env=env, timeout=300)
    modules = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
               if line.startswith("import time:")}
    return result, {m.split(".")[0] for m in modules}


HEAVY = {"dagster", "dagster_duckdb", "dagster_dbt", "dbt", "great_expectations"}


def test_validate_and_submit_with_nothing_published_load_neither_dagster_nor_great_expectations(tmp_path):
    """On a fresh TRACKER_HOME (no published snapshot) the organisation codes come from the shipped data through
    tracker/organisation_register.py: the right answer, without loading Dagster, dbt or Great Expectations."""
    home = tmp_path / "fresh"
    assert not (home / "published").exists()
    good, packages = imported_by("validate", str(SAMPLES / "ILLUSTRATIVE_D10_2025-26_Q3.xlsx"), home=home)
    assert good.returncode == 0, good.stdout + good.stderr[-2000:]
    assert "the return is valid: Department for Work and Pensions (D10), 2025-26 Q3" in good.stdout
    assert {"checks", "tracker", "pandas", "openpyxl"} <= packages  # the listing is there and the check ran
    assert not packages & HEAVY, packages & HEAVY
    bad, packages = imported_by("validate", str(SAMPLES / "ILLUSTRATIVE_D16_2025-26_Q3.csv"), home=home)
    assert bad.returncode == 1 and "there are 2 problems" in bad.stdout
    assert not packages & HEAVY, packages & HEAVY
    sent, packages = imported_by("submit", str(SAMPLES / "ILLUSTRATIVE_D10_2025-26_Q2.csv"), "--organisation",
                                 "D10", home=home)
    assert sent.returncode == 0 and "Return received for Department for Work and Pensions (D10)" in sent.stdout
    assert not packages & HEAVY, packages & HEAVY
    assert not (home / "published").exists()  # still nothing published: the shipped data was read each time


def test_the_organisation_register_is_dagster_free_and_the_asset_builds_the_same_tables(monkeypatch):
    """tracker/organisation_register.py imports without Dagster; the organisations asset's reader gives exactly
    its tables, and an alias naming an unknown body still fails the run."""
    script = ("import sys, tracker.organisation_register; "
              "print(sorted({m.split('.')[0] for m in sys.modules} & {'dagster', 'great_expectations'}))")
    check = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT, timeout=300)
    assert check.stdout.strip() == "[]", check.stdout + check.stderr

    import dagster as dg

    from assets.organisations import build_organisation_tables
    from tracker.organisation_register import UnknownAliasOrganisations, organisation_tables
    from tracker.resources import TrackerConfig
    from tracker.warehouse import read_source_files

    files = read_source_files(DATA / "organisations", "*")
    frames = build_organisation_tables(files, TrackerConfig(data_dir=str(DATA), home_dir="unused"))
    direct = organisation_tables(files, DATA)
    assert frames.keys() == direct.keys() == {"staging.organisations", "staging.organisation_identifiers"}
    for name, frame in frames.items():
        assert frame.equals(direct[name]), name
    codes = dict(zip(frames["staging.organisations"]["organisation_code"], frames["staging.organisations"]["name"],
                     strict=True))
    assert codes["D10"] == "Department for Work and Pensions"
    import tracker.organisation_register as register

    real = register.load_aliases

    def with_unknown(data):
        aliases = real(data)
        aliases.successors["closed-body"] = "no-such-body"
        return aliases

    monkeypatch.setattr(register, "load_aliases", with_unknown)
    with pytest.raises(UnknownAliasOrganisations, match="no-such-body"):
        organisation_tables(files, DATA)
    with pytest.raises(dg.Failure, match="no-such-body"):
        build_organisation_tables(files, TrackerConfig(data_dir=str(DATA), home_dir="unused"))


def _damaged_workbooks() -> dict[str, bytes]:
    """Workbooks that open as a zip but break inside the sheet (openpyxl parses them lazily, in iter_rows)."""
    import zipfile

    good = (SAMPLES / "ILLUSTRATIVE_D10_2025-26_Q3.xlsx").read_bytes()
    source = zipfile.ZipFile(io.BytesIO(good))
    sheet = next(n for n in source.namelist() if n.startswith("xl/worksheets/sheet"))

    def rebuilt(change) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for item in source.infolist():
                data = change(item.filename, source.read(item.filename))
                if data is not None:
                    target.writestr(item.filename, data)
        return out.getvalue()

    return {
        "cut-short.xlsx": rebuilt(lambda n, d: d[: len(d) // 2] if n == sheet else d),
        "no-worksheet.xlsx": rebuilt(lambda n, d: None if n == sheet else d),
        "bad-shared-string.xlsx": rebuilt(lambda n, d: d.replace(b"<v>", b"<v>99999", 1) if n == sheet else d),
        "garbage-sheet.xlsx": rebuilt(lambda n, d: b"\x00\xff<<not xml" if n == sheet else d),
    }


def test_validate_never_prints_a_traceback(tmp_path):
    """Damaged workbooks, a folder, a pipe, an unreadable file: one plain sentence naming the file, exit 1."""
    cases = []
    for name, content in _damaged_workbooks().items():
        (tmp_path / name).write_bytes(content)
        cases.append(name)
    (tmp_path / "folder.csv").mkdir()
    os.mkfifo(tmp_path / "pipe.csv")
    (tmp_path / "locked.csv").write_bytes(b"x")
    (tmp_path / "locked.csv").chmod(0)
    cases += ["folder.csv", "pipe.csv", "locked.csv"]
    for name in cases:
        result = tracker("validate", str(tmp_path / name), home=tmp_path)
        said = result.stdout + result.stderr
        assert result.returncode == 1, (name, said)
        assert "Traceback" not in said and "Error:" not in said and "Exception" not in said, (name, said)
        assert name in said, (name, said)


def test_validate_turns_an_unexpected_error_into_one_sentence(tmp_path, monkeypatch, capsys):
    import checks.return_validation as validation
    from pipelines import return_commands

    sample = SAMPLES / "ILLUSTRATIVE_D10_2025-26_Q2.csv"
    monkeypatch.setattr(return_commands, "known_organisations", lambda: {"D10": "DWP"})
    monkeypatch.setattr(validation, "validate_return", lambda *a, **k: (_ for _ in ()).throw(KeyError("xl/x.xml")))
    assert return_commands.validate(str(sample)) == 1
    said = capsys.readouterr().out
    assert said.startswith(f"{sample.name}: the tracker could not check this file")
    assert "KeyError" not in said and "xl/x.xml" not in said


def test_validate_reads_no_further_than_the_limit(tmp_path, monkeypatch, capsys):
    from checks.return_contract import MAX_FILE_BYTES
    from pipelines import return_commands

    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * (MAX_FILE_BYTES + 10))
    assert return_commands.validate(str(big)) == 1
    assert "the limit is 2 MB" in capsys.readouterr().out
