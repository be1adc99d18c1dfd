"""The Civil Service Statistics reader on the real shipped files: totals, encodings, suppression, the notes block,
In post only, the dated department mapping, and hostile files that must give a plain problem."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets import declarations, organisations, skills
from tests.conftest import DATA, build_models, make_resources
from tracker.declaration_files import DeclarationError
from tracker.organisation_names import load_aliases
from tracker.organisation_register import organisation_tables, parse_api_organisations
from tracker.parsing import FeedError
from tracker.skills import (
    DDAT,
    AcsesFile,
    capacity_tables,
    load_department_names,
    map_department_names,
    parse_skills_file,
    read_acses,
)
from tracker.warehouse import SourceFile, read_source_files

SKILLS = DATA / "skills"
PUBLISHED = {2021: (13_290, 484_880), 2022: (20_010, 510_080), 2023: (23_155, 519_780)}
BEIS = "Department for Business, Energy and Industrial Strategy"

# Every published parent-department name not shown under a department of today, with its kind: a new name that
# the register cannot place fails here (add it to data/organisation_aliases.yaml, or explain it).
UNMAPPED = {
    (year, name): kind
    for year in (2021, 2022, 2023)
    for name, kind in {
        "Attorney General's Departments": "not a department",
        "Chancellor's other departments": "not a department",
        BEIS: "split: not divided",
        "Department for Digital, Culture, Media and Sport": "split: not divided",
        "Scottish Government": "devolved",
        "Welsh Government": "devolved",
    }.items()
} | {
    (2021, "ESTYN"): "devolved", (2022, "Estyn"): "devolved", (2023, "Estyn"): "devolved",
    (2021, "Other Cabinet Office Agencies"): "not a department",
    (2021, "Scotland Office"): "successor not in register",
    (2022, "Office of the Secretary of State for Scotland"): "successor not in register",
    (2023, "Office of the Secretary of State for Scotland"): "successor not in register",
}


def acses_file(name: str) -> SourceFile:
    return SourceFile(Path(name), (SKILLS / name).read_bytes())


@pytest.fixture(scope="module")
def read() -> list[AcsesFile]:
    return [parse_skills_file(f) for f in read_source_files(SKILLS, "acses_*.csv")]


@pytest.fixture(scope="module")
def capacity(read) -> dict:
    return capacity_tables(read)


@pytest.fixture(scope="module")
def mapping(capacity):
    files = read_source_files(DATA / "organisations", "*")
    register = organisation_tables(files, DATA)
    api = parse_api_organisations(next(f for f in files if f.name.startswith("govuk_api_organisations")))
    return map_department_names(capacity["departments"], register["staging.organisations"],
                                register["staging.organisation_identifiers"], api, load_aliases(DATA),
                                load_department_names(DATA)).set_index(["year", "name_as_published"])


def test_the_national_totals_are_the_published_figures(capacity):
    national = capacity["national"].set_index("year")
    for year, (ddat, total) in PUBLISHED.items():
        assert (national.at[year, "ddat_headcount"], national.at[year, "total_headcount"]) == (ddat, total)
    assert national.at[2023, "ddat_share_pct"] == 4.45


def test_department_rows_sum_to_the_national_totals_within_rounding(capacity):
    """Each row is rounded to the nearest 5, so n rows may differ from the rounded total by n x 2.5 at most."""
    departments = capacity["departments"]
    for year, (ddat, total) in PUBLISHED.items():
        rows = departments[departments["year"] == year]
        assert abs(rows["total_headcount"].sum() - total) <= len(rows) * 2.5, year
        listed = rows["ddat_headcount"].notna().sum()
        suppressed = int(rows["ddat_suppressed"].sum())  # each [c] is under 5 people
        assert abs(rows["ddat_headcount"].sum() - ddat) <= listed * 2.5 + suppressed * 4, year


def test_both_encodings_are_read_and_named(read):
    encodings = {(f.year, f.encoding) for f in read}
    assert encodings == {(2021, "Windows-1252"), (2022, "Windows-1252"), (2023, "UTF-8")}
    # No department or profession name in these files is outside ASCII: the notes' '£' is the test of decoding.
    for f in read:
        notes = " ".join(f.notes)
        assert "nearest £10" in notes and "\ufffd" not in notes and "Â£" not in notes, f.file_name


def test_a_windows_1252_name_decodes_correctly():
    """A department with an accent in a Windows-1252 file (as 2021/2022 are encoded) reads as written."""
    text = (SKILLS / "acses_2021_Parent_department_data.csv").read_bytes().decode("cp1252")
    text = text.replace('"Welsh Government"', '"Llywodraeth Cymru – Gweinidogion Cymru é"')
    parsed = read_acses(SourceFile(Path("acses_2021_Parent_department_data.csv"), text.encode("cp1252")))
    assert parsed.encoding == "Windows-1252"
    assert "Llywodraeth Cymru – Gweinidogion Cymru é" in set(parsed.in_post["parent_department"])


def test_suppressed_cells_are_null_and_counted(read, capacity):
    by_name = {f.file_name: f for f in read}
    f = by_name["acses_2021_Parent_department_Profession_of_post_data.csv"]
    assert f.suppressed_cells == 188  # In post Headcount and FTE cells published as [c]
    assert f.in_post["headcount"].isna().sum() == 94
    departments = capacity["departments"]
    assert departments["ddat_suppressed"].any()
    assert departments.loc[departments["ddat_suppressed"], "ddat_headcount"].isna().all()


def test_the_notes_block_is_not_read_as_data(read):
    for f in read:
        assert f.notes[0] == "Notes" and f.version_note.startswith("Generated on"), f.file_name
        names = set(f.in_post["parent_department"].dropna()) | set(f.in_post["profession_of_post"].dropna())
        assert not names & {"Notes", "Data source", "Version", "Data column", ""}, f.file_name
    national = next(f for f in read if f.file_name == "acses_2021_data.csv")
    assert national.data_rows == 4 and len(national.in_post) == 1


def test_only_in_post_rows_count(read):
    for f in read:
        assert len(f.in_post) < f.data_rows, f.file_name  # the file also has entrants and leavers
    f = next(f for f in read if f.file_name == "acses_2023_Profession_of_post_data.csv")
    ddat = f.in_post[f.in_post["profession_of_post"] == DDAT]
    assert ddat["headcount"].tolist() == [23_155.0]


def test_2021_is_low_coverage_and_later_years_are_not(capacity):
    national = capacity["national"].set_index("year")
    assert national.at[2021, "low_coverage"] and not national.at[2022, "low_coverage"]
    assert 24 < national.at[2021, "unknown_profession_share_pct"] < 26  # about a quarter: missing data, not people
    cabinet_office = capacity["departments"].set_index(["year", "name_as_published"]).loc[(2021, "Cabinet Office")]
    assert cabinet_office["ddat_headcount"] == 5 and cabinet_office["unknown_headcount"] == 9_345
    assert cabinet_office["low_coverage"]


def test_every_unmapped_name_is_listed_with_its_reason(mapping):
    unmapped = mapping[mapping["department_code"].isna()]
    assert dict(unmapped["mapping"]) == UNMAPPED
    assert unmapped["unmapped_reason"].notna().all()
    assert mapping[mapping["department_code"].notna()]["unmapped_reason"].isna().all()


def test_beis_2023_is_not_divided_and_its_successors_are_named(mapping):
    beis = mapping.loc[(2023, BEIS)]
    assert beis["department_code"] is None or beis["department_code"] != beis["department_code"]
    assert beis["department_name"] == BEIS
    assert set(beis["successor_departments"].split("; ")) == {
        "Department for Science, Innovation and Technology", "Department for Energy Security and Net Zero",
        "Department for Business and Trade"}
    assert "closed on 7 February 2023" in beis["mapping_note"] and "not divided" in beis["mapping_note"]
    assert "its old name" in beis["mapping_note"]


def test_renamed_and_merged_bodies_show_under_today_s_department(mapping):
    dit = mapping.loc[(2023, "Department for International Trade")]
    assert dit["department_name"] == "Department for Business and Trade" and "7 February 2023" in dit["mapping_note"]
    mhclg_2021 = mapping.loc[(2021, "Ministry of Housing, Communities and Local Government")]
    dluhc_2022 = mapping.loc[(2022, "Department for Levelling Up, Housing and Communities")]
    assert mhclg_2021["department_code"] == dluhc_2022["department_code"]  # today's MHCLG, one series
    wales = {mapping.loc[(y, n), "department_code"] for y, n in [
        (2021, "Wales Office"), (2022, "Office of the Secretary of State for Wales")]}
    assert len(wales) == 1
    assert mapping.loc[(2023, "Office of Gas and Electricity Markets"), "department_name"] == "Ofgem"


# Hostile files: each gives a plain problem naming what and how to fix, never a traceback.


def _problem(name: str, content: bytes) -> str:
    with pytest.raises(FeedError) as err:
        parse_skills_file(SourceFile(Path(name), content))
    assert err.value.file_name == name
    return err.value.problem


def test_hostile_files_give_a_plain_problem():
    good = (SKILLS / "acses_2023_Parent_department_data.csv").read_bytes()
    cut = good[: len(good) // 2]
    assert "cut short" in _problem("acses_2023_Parent_department_data.csv", cut)
    lines = good.split(b"\n")
    assert "cut short" in _problem("acses_2023_Parent_department_data.csv", b"\n".join(lines[:40]) + b"\n")
    wrong = good.replace(b'"Parent_department"', b'"Department"', 1)
    assert "unexpected 'Department'" in _problem("acses_2023_Parent_department_data.csv", wrong)
    assert "empty" in _problem("acses_2023_Parent_department_data.csv", b"")
    assert "neither UTF-8 nor Windows-1252" in _problem("acses_2023_data.csv", b"\x81\x8d\x8f\x90\x9d")
    national = (SKILLS / "acses_2023_data.csv").read_bytes()
    assert "not a number" in _problem("acses_2023_data.csv", national.replace(b'"519780"', b'"lots"'))
    assert "differs from the 2022" in _problem("acses_2022_data.csv", (SKILLS / "acses_2023_data.csv").read_bytes())
    assert "not a file of this source" in _problem("salaries.xlsx", b"PK\x03\x04")
    assert "does not read this breakdown" in _problem("acses_2023_Organisation_data.csv", good)


def _run(data: Path, home: Path):
    result = dg.materialize(
        [declarations.declarations, organisations.organisations_files, organisations.organisations,
         skills.skills_files, skills.skills_staging, skills.skills_name_mapping],
        resources=make_resources(home, data=data), raise_on_error=False)
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        problems = con.execute("SELECT file_name, problem, consequence FROM quarantine.skills_feed_problems "
                               "ORDER BY file_name").fetchall()
        national = con.execute("SELECT year, ddat_headcount, total_headcount FROM staging.digital_capacity_national "
                               "ORDER BY year").fetchall()
    finally:
        con.close()
    return result, problems, national


def test_a_broken_file_is_quarantined_and_the_others_still_count(data_copy, tmp_path):
    skills_dir = data_copy / "skills"
    (skills_dir / "acses_2022_data.csv").write_bytes(b"")
    good = (skills_dir / "acses_2023_Profession_of_post_data.csv").read_bytes()
    (skills_dir / "acses_2023_Profession_of_post_data.csv").write_bytes(good[: len(good) // 3])
    (skills_dir / "not_a_table.csv").write_bytes(b"\x00\x81\x8d binary \xff")
    result, problems, national = _run(data_copy, tmp_path / "home")
    assert result.success
    assert [p[0] for p in problems] == ["acses_2022_data.csv", "acses_2023_Profession_of_post_data.csv",
                                        "not_a_table.csv"]
    assert all(p[2].startswith("file left out") for p in problems)
    assert "Traceback" not in " ".join(p[1] for p in problems)
    assert national == [(2021, 13_290.0, 484_880.0), (2022, 20_010.0, None), (2023, None, 519_780.0)]


def _mapping_state(home: Path):
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        mapped = con.execute("SELECT count(department_code) FROM staging.skills_name_mapping").fetchone()[0]
        problems = con.execute("SELECT source, file_name, problem, consequence FROM "
                               "quarantine.skills_mapping_feed_problems ORDER BY file_name").fetchall()
    return mapped, problems


def _first_page() -> bytes:
    """What the GOV.UK organisations API gives at its address: 20 organisations, and where the next page is."""
    whole = json.loads((DATA / "organisations" / "govuk_api_organisations_2026-06-01.json").read_bytes())
    return json.dumps({"results": whole["results"][:20], "pages": 63, "current_page": 1,
                       "next_page_url": "https://www.gov.uk/api/organisations?page=2"}).encode()


@pytest.mark.parametrize("content, said", [
    (b'{"results": ', "not the GOV.UK organisations API format"),
    (_first_page(), "it is one page of 63 of the GOV.UK organisations API (20 organisations)"),
])
def test_a_newer_register_file_that_cannot_be_read_leaves_the_register_and_names_on_the_older_one(
        data_copy, tmp_path, content, said):
    (data_copy / "organisations" / "govuk_api_organisations_2026-09-01.json").write_bytes(content)
    result, _, _ = _run(data_copy, tmp_path / "home")
    assert result.success
    mapped, problems = _mapping_state(tmp_path / "home")
    assert mapped > 30
    [(source, file_name, problem, consequence)] = problems
    assert (source, file_name) == ("skills", "govuk_api_organisations_2026-09-01.json")
    assert said in problem and consequence.startswith("file left out")
    with duckdb.connect(str(tmp_path / "home" / "warehouse.duckdb"), read_only=True) as con:  # the register too
        register = con.execute("SELECT count(*) FROM staging.organisations").fetchone()[0]
        left_out = con.execute("SELECT file_name, consequence FROM quarantine.organisations_feed_problems").fetchall()
    assert register > 1000
    assert [(f, c[:15]) for f, c in left_out] == [("govuk_api_organisations_2026-09-01.json", "file left out; ")]


def test_a_department_names_file_broken_later_keeps_the_last_mapping(data_copy, tmp_path):
    home = tmp_path / "home"
    assert _run(data_copy, home)[0].success
    before, problems = _mapping_state(home)
    assert before > 30 and problems == []
    (data_copy / "skills" / "department_names.yaml").write_text("closed_on:\n  some-department: soon\n")
    assert _run(data_copy, home)[0].success
    after, problems = _mapping_state(home)
    assert after == before
    [(_, file_name, problem, consequence)] = problems
    assert file_name is None and "closed_on for some-department is not a date" in problem
    assert consequence == "the source keeps its last good figures"


@pytest.mark.parametrize("content, said", [
    (b"\xff\xfe\x00g\x00r", "is not UTF-8 text"),
    (b"groupings:\n  a: b\n closed_on: [\n", "is not valid YAML at line 3"),
    (b"- a list\n", "must be sections written 'name: value', not a list"),
    (b"groupings: just words\n", "groupings must be sections of name: value, not a piece of text"),
    (b"closed_on:\n  a-slug: 2023-13-45\n", "has a date that does not exist"),
    (b"closed_on:\n  a-slug: early 2023\n", "closed_on for a-slug is not a date"),
])
def test_a_department_names_file_that_cannot_be_used_is_said_in_words(tmp_path, content, said):
    (tmp_path / "skills").mkdir()
    (tmp_path / "skills" / "department_names.yaml").write_bytes(content)
    with pytest.raises(DeclarationError, match="data/skills/department_names.yaml") as raised:
        load_department_names(tmp_path)
    assert said in str(raised.value)


def test_the_assets_materialise_and_the_marts_build(tmp_path):
    home = tmp_path / "home"
    result, problems, national = _run(DATA, home)
    assert result.success and problems == []
    assert national == [(y, float(d), float(t)) for y, (d, t) in PUBLISHED.items()]
    build_models(home / "warehouse.duckdb", "marts.skills")
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        columns = [c[0] for c in con.execute("DESCRIBE marts.digital_capacity").fetchall()]
        assert columns == ["department_code", "department_name", "name_as_published", "as_at", "year",
                           "ddat_headcount", "ddat_fte", "total_headcount", "total_fte", "ddat_share_pct",
                           "unknown_profession_share_pct", "low_coverage", "mapping_note", "successor_departments",
                           "definition"]
        beis = con.execute("SELECT department_code, department_name, successor_departments FROM "
                           "marts.digital_capacity WHERE year = 2023 AND name_as_published = ?", [BEIS]).fetchall()
        assert beis[0][0] is None and beis[0][1] == BEIS and beis[0][2].count("; ") == 2
        unmapped = con.execute("SELECT count(*) FROM marts.skills_unmapped_names").fetchone()[0]
        assert unmapped == len(UNMAPPED)
        words = con.execute("SELECT percent, percent_value FROM marts.civil_servant_surveys "
                            "WHERE percent = 'nearly half'").fetchall()
        assert words == [("nearly half", None)]
        definitions = con.execute("SELECT count(DISTINCT definition) FROM marts.ddat_series_as_reported "
                                  "WHERE as_at = DATE '2023-03-31'").fetchone()[0]
        assert definitions == 2  # the profession and the wider function: two rows, never one
    finally:
        con.close()


def test_the_whole_run_publishes_the_skills_marts_and_their_dbt_checks_pass(built):
    """The session's full run (every asset, every check, `dbt build`): the skills marts are in the snapshot."""
    from tracker.settings import snapshot_path

    skills_marts = {"digital_capacity", "digital_capacity_national", "ddat_series_as_reported",
                    "civil_servant_surveys", "skills_unmapped_names"}
    evaluations = [e for e in built["result"].get_asset_check_evaluations()
                   if e.asset_key.path[0] == "marts" and e.asset_key.path[-1] in skills_marts]
    # each mart's rules are one dbt test (assets/dbt/tests/generic/rules.sql): one check a mart, every one passed
    assert sorted(e.check_name for e in evaluations) == sorted(f"{mart}_rules" for mart in skills_marts)
    assert all(e.passed for e in evaluations)
    con = duckdb.connect(str(snapshot_path(built["home"])), read_only=True)
    try:
        national = con.execute("SELECT year, ddat_headcount FROM marts.digital_capacity_national ORDER BY year")
        assert national.fetchall() == [(y, float(d)) for y, (d, _t) in PUBLISHED.items()]
        assert con.execute("SELECT count(*) FROM marts.skills_unmapped_names").fetchone()[0] == len(UNMAPPED)
    finally:
        con.close()
