"""Digital capacity from the public record: the Civil Service Statistics (ACSES) files, the national series
as reported, and the 2015-2017 surveys of civil servants.

Reading (``parse_skills_file``): each file is read as published, never edited. Encoding: strict UTF-8 first
(a byte-order mark allowed), else strict Windows-1252; a file that is neither is refused. UTF-8 goes first
because Windows-1252 text with any byte above 127 is almost never valid UTF-8, while every UTF-8 file would
"decode" as Windows-1252 into mojibake (the 2021 and 2022 ACSES files are Windows-1252: their only non-ASCII
byte is the '£' of the notes; 2023 is UTF-8). The data stop at the notes block (the row whose first cell is
``Notes``); a file without one is taken to be cut short and refused. ``[c]`` (fewer than 5 people) becomes
NULL and is counted. Capacity is the ``In post`` rows only: entrants and leavers are flows over the year.

Deriving (``capacity_tables``, DuckDB SQL): per parent department and year (as at 31 March) the headcount and
FTE of the Digital, Data and Technology profession of post and of all staff, the DDaT share of headcount,
and the share of staff with no recorded profession (the profession value ``Unknown``). More than
LOW_COVERAGE_PCT unknown is low coverage: a low DDaT share there is missing data, not missing people.

Mapping (``map_department_names``): each year's published parent-department name to a GOV.UK body through
the organisation register, dated: see that function.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from tracker.dates import long_date
from tracker.declaration_files import DeclarationError, read_declaration, section
from tracker.organisation_names import OrganisationAliases, name_variants, normalise
from tracker.parsing import FeedError
from tracker.warehouse import SourceFile

DDAT = "Digital, Data and Technology"
UNKNOWN_PROFESSION = "Unknown"
IN_POST = "In post"
STATUSES = (IN_POST, "New entrant CS", "Leaver CS", "Leaver Dept.")
SUPPRESSED = "[c]"
NOTES_START = "Notes"
LOW_COVERAGE_PCT = 20.0
DEPARTMENT_NAMES_FILE = Path("skills") / "department_names.yaml"
SERIES_FILE = "ddat_national_series_as_reported.csv"
SURVEYS_FILE = "civil_servant_surveys_2015_2017.csv"
SERIES_COLUMNS = ["as_at", "ddat_headcount", "total_cs_headcount", "ddat_share_pct", "definition", "source_url",
                  "source_note"]
SURVEY_COLUMNS = ["survey", "period", "finding", "percent", "sample", "source"]
NUMBERS = ["Headcount", "FTE", "Mean_salary", "Median_salary"]
# The breakdowns the tracker reads, by the part of the file name between the year and '_data.csv'.
BREAKDOWNS = {
    "national": [],
    "Profession_of_post": ["Profession_of_post"],
    "Parent_department": ["Parent_department"],
    "Parent_department_Profession_of_post": ["Parent_department", "Profession_of_post"],
}
_ACSES_NAME = re.compile(r"^acses_(?P<year>\d{4})(?:_(?P<breakdown>.+))?_data\.csv$")
_PLAIN_NUMBER = re.compile(r"^\s*-?\d+(?:\.\d+)?\s*$")


def decode(content: bytes, file_name: str) -> tuple[str, str]:
    """The file's text and the encoding it was read in: strict UTF-8, else strict Windows-1252."""
    try:
        return content.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError as err:
        raise FeedError(file_name, f"the file is neither UTF-8 nor Windows-1252 text (byte {err.start}): it is "
                        "probably not a CSV file. Replace it with the CSV downloaded from the Civil Service "
                        "Statistics data browser.") from None


@dataclass
class AcsesFile:
    """One ACSES breakdown file as read: its In post rows and what was left aside."""

    file_name: str
    sha256: str
    year: int
    breakdown: str
    encoding: str
    in_post: pd.DataFrame  # year, parent_department, profession_of_post, headcount, fte
    data_rows: int
    suppressed_cells: int  # In post Headcount and FTE cells published as [c]
    notes: list[str] = field(default_factory=list)

    @property
    def version_note(self) -> str | None:
        return next((n for n in self.notes if n.startswith("Generated on")), None)


def _number(cell: str, file_name: str, row: int, column: str) -> float | None:
    if cell == SUPPRESSED:
        return None
    try:
        value = float(cell.replace(",", ""))
    except ValueError:
        raise FeedError(file_name, f"row {row}, column {column}: '{cell}' is not a number or '[c]'. Check the file "
                        "is the data browser's CSV, unedited.") from None
    if value < 0:
        raise FeedError(file_name, f"row {row}, column {column}: {cell} is negative.")
    return value


def read_acses(file: SourceFile) -> AcsesFile:
    """One ACSES file -> its In post rows; FeedError (what, where, how to fix) when it cannot be read as published."""
    match = _ACSES_NAME.match(file.name)
    breakdown = (match["breakdown"] or "national") if match else None
    if breakdown not in BREAKDOWNS:
        raise FeedError(file.name, "the tracker does not read this breakdown; expected acses_<year>_data.csv, or "
                        f"acses_<year>_<breakdown>_data.csv with breakdown one of {', '.join(list(BREAKDOWNS)[1:])}.")
    year = int(match["year"])
    if not file.content.strip():
        raise FeedError(file.name, "the file is empty (0 bytes of CSV). Download it again from the data browser.")
    text, encoding = decode(file.content, file.name)
    expected = ["Status", "Year", *BREAKDOWNS[breakdown], *NUMBERS]
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as err:
        raise FeedError(file.name, f"the file is not a readable CSV ({err}).") from None
    header = rows[0] if rows else []
    if header != expected:
        missing = [c for c in expected if c not in header]
        extra = [c for c in header if c not in expected]
        raise FeedError(file.name, "the columns are not the ones this breakdown publishes: "
                        + "; ".join(filter(None, [f"missing {', '.join(missing)}" if missing else "",
                                                  f"unexpected {', '.join(map(repr, extra))}" if extra else "",
                                                  "in another order" if not missing and not extra else ""]))
                        + f". Expected {', '.join(expected)}.")
    data, notes, suppressed = [], None, 0
    for number, row in enumerate(rows[1:], start=2):
        if row and row[0] == NOTES_START:
            notes = [cell for r in rows[number - 1:] for cell in r[:2] if cell]
            break
        if len(row) != len(expected):
            raise FeedError(file.name, f"row {number} has {len(row)} cells, expected {len(expected)}: the file may be "
                            "cut short or damaged. Download it again.")
        record = dict(zip(expected, row, strict=True))
        if record["Status"] not in STATUSES:
            raise FeedError(file.name, f"row {number}: Status '{record['Status']}' is not one of "
                            f"{', '.join(STATUSES)}.")
        if record["Year"] != str(year):
            raise FeedError(file.name, f"row {number}: Year '{record['Year']}' differs from the {year} in the file "
                            "name. Rename the file after the year it reports.")
        values = {c: _number(record[c], file.name, number, c) for c in NUMBERS}
        if record["Status"] == IN_POST:  # the cells capacity is read from; entrants' and leavers' FTE is never shown
            suppressed += sum(record[c] == SUPPRESSED for c in ("Headcount", "FTE"))
        data.append({"status": record["Status"], "year": year,
                     "parent_department": record.get("Parent_department"),
                     "profession_of_post": record.get("Profession_of_post"),
                     "headcount": values["Headcount"], "fte": values["FTE"]})
    if notes is None:
        raise FeedError(file.name, "the block of notes that ends every published file is missing: the file is "
                        "probably cut short. Download it again.")
    if not data:
        raise FeedError(file.name, "the file has a header and notes but no rows of figures.")
    frame = pd.DataFrame(data)
    in_post = frame[frame["status"] == IN_POST].drop(columns="status").reset_index(drop=True)
    if in_post.empty:
        raise FeedError(file.name, "no 'In post' rows: the file has only entrants or leavers.")
    return AcsesFile(file.name, file.sha256, year, breakdown, encoding, in_post, len(frame), suppressed, notes)


def _plain_number(text: str) -> float | None:
    return float(text) if _PLAIN_NUMBER.match(text or "") else None


def _read_table(file: SourceFile, columns: list[str]) -> pd.DataFrame:
    if not file.content.strip():
        raise FeedError(file.name, "the file is empty (0 bytes of CSV).")
    text, _ = decode(file.content, file.name)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise FeedError(file.name, f"the file is not a readable CSV ({err}).") from None
    if list(frame.columns) != columns:
        raise FeedError(file.name, f"the columns are {', '.join(map(repr, frame.columns))}; expected "
                        f"{', '.join(columns)}. Keep the transcription's columns as they are.")
    if frame.empty:
        raise FeedError(file.name, "the file has a header but no rows.")
    return frame


def read_series(file: SourceFile) -> pd.DataFrame:
    """The national series as reported: numbers where the cell is a number, each row with its own definition."""
    frame = _read_table(file, SERIES_COLUMNS)
    out = pd.DataFrame({"as_at": [_date(v, file.name, i) for i, v in enumerate(frame["as_at"], start=2)]})
    for column in ("ddat_headcount", "total_cs_headcount", "ddat_share_pct"):
        cells = frame[column].str.strip()
        bad = [(i, v) for i, v in enumerate(cells, start=2) if v and _plain_number(v) is None]
        if bad:
            raise FeedError(file.name, f"row {bad[0][0]}, column {column}: '{bad[0][1]}' is not a number.")
        out[column] = [_plain_number(v) for v in cells]
    for column in ("definition", "source_url", "source_note"):
        out[column] = frame[column].replace("", None)
    return out.assign(file_name=file.name)


def _date(text: str, file_name: str, row: int) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise FeedError(file_name, f"row {row}: as_at '{text}' is not a date (YYYY-MM-DD).") from None


def read_surveys(file: SourceFile) -> pd.DataFrame:
    """The surveys as worded: ``percent`` stays text; ``percent_value`` only when the cell is a plain number."""
    frame = _read_table(file, SURVEY_COLUMNS)
    return frame.assign(percent_value=[_plain_number(v) for v in frame["percent"]], file_name=file.name)


def parse_skills_file(file: SourceFile) -> AcsesFile | pd.DataFrame:
    """Any file of the source, by its name; FeedError for a file the source does not publish."""
    if file.name == SERIES_FILE:
        return read_series(file)
    if file.name == SURVEYS_FILE:
        return read_surveys(file)
    if file.name.startswith("acses_"):
        return read_acses(file)
    raise FeedError(file.name, f"not a file of this source: expected acses_<year>_..._data.csv, {SERIES_FILE} or "
                    f"{SURVEYS_FILE}.")


# The department and national figures, in SQL over every In post row read (view in_post).
DEPARTMENTS_SQL = f"""
WITH totals AS (
    SELECT year, parent_department, headcount, fte FROM in_post WHERE breakdown = 'Parent_department'
),
professions AS (
    SELECT year, parent_department,
           sum(headcount) FILTER (WHERE profession_of_post = '{DDAT}') AS ddat_headcount,
           sum(fte) FILTER (WHERE profession_of_post = '{DDAT}') AS ddat_fte,
           sum(headcount) FILTER (WHERE profession_of_post = '{UNKNOWN_PROFESSION}') AS unknown_headcount,
           count(*) FILTER (WHERE profession_of_post = '{DDAT}') AS ddat_rows,
           count(*) FILTER (WHERE profession_of_post = '{DDAT}' AND headcount IS NULL) AS ddat_suppressed
    FROM in_post WHERE breakdown = 'Parent_department_Profession_of_post'
    GROUP BY ALL
)
SELECT year, make_date(year, 3, 31) AS as_at, parent_department AS name_as_published,
       p.ddat_headcount, p.ddat_fte, t.headcount AS total_headcount, t.fte AS total_fte,
       p.unknown_headcount,
       coalesce(p.ddat_suppressed > 0, false) AS ddat_suppressed,
       coalesce(p.ddat_rows = 0, false) AS ddat_not_listed,
       round(100 * p.ddat_headcount / nullif(t.headcount, 0), 2) AS ddat_share_pct,
       round(100 * coalesce(p.unknown_headcount, 0) / nullif(t.headcount, 0), 2) AS unknown_profession_share_pct
FROM totals t FULL JOIN professions p USING (year, parent_department)
"""

NATIONAL_SQL = f"""
WITH totals AS (
    SELECT year, headcount, fte FROM in_post WHERE breakdown = 'national'
),
professions AS (
    SELECT year,
           sum(headcount) FILTER (WHERE profession_of_post = '{DDAT}') AS ddat_headcount,
           sum(fte) FILTER (WHERE profession_of_post = '{DDAT}') AS ddat_fte,
           sum(headcount) FILTER (WHERE profession_of_post = '{UNKNOWN_PROFESSION}') AS unknown_headcount
    FROM in_post WHERE breakdown = 'Profession_of_post' GROUP BY ALL
),
departments AS (
    SELECT year, sum(ddat_headcount) AS department_ddat_headcount_sum,
           sum(total_headcount) AS department_total_headcount_sum, count(*) AS departments
    FROM departments_view GROUP BY ALL
)
SELECT year, make_date(year, 3, 31) AS as_at, p.ddat_headcount, p.ddat_fte,
       t.headcount AS total_headcount, t.fte AS total_fte, p.unknown_headcount,
       round(100 * p.ddat_headcount / nullif(t.headcount, 0), 2) AS ddat_share_pct,
       round(100 * p.unknown_headcount / nullif(t.headcount, 0), 2) AS unknown_profession_share_pct,
       d.department_ddat_headcount_sum, d.department_total_headcount_sum, d.departments
FROM totals t FULL JOIN professions p USING (year) LEFT JOIN departments d USING (year)
"""


def capacity_tables(files: list[AcsesFile]) -> dict[str, pd.DataFrame]:
    """Department-year and national figures from whatever ACSES files were read (a missing file: NULL figures)."""
    columns = ["breakdown", "year", "parent_department", "profession_of_post", "headcount", "fte"]
    in_post = pd.concat([f.in_post.assign(breakdown=f.breakdown) for f in files], ignore_index=True) if files \
        else pd.DataFrame(columns=columns)
    in_post = in_post[columns].astype({"year": "int64", "headcount": "float64", "fte": "float64",
                                       "breakdown": "string", "parent_department": "string",
                                       "profession_of_post": "string"})
    with duckdb.connect() as con:
        con.register("in_post", in_post)
        departments = con.execute(
            f"SELECT *, unknown_profession_share_pct > {LOW_COVERAGE_PCT} AS low_coverage FROM ({DEPARTMENTS_SQL}) "
            "WHERE name_as_published IS NOT NULL ORDER BY year, name_as_published").df()
        con.register("departments_view", departments)
        national = con.execute(
            f"SELECT *, unknown_profession_share_pct > {LOW_COVERAGE_PCT} AS low_coverage FROM ({NATIONAL_SQL}) "
            "ORDER BY year").df()
    return {"departments": departments, "national": national}


def files_table(files: list[AcsesFile]) -> pd.DataFrame:
    """What each ACSES file gave: year, breakdown, the encoding it was read in, rows, suppressed cells."""
    return pd.DataFrame(
        [{"file_name": f.file_name, "sha256": f.sha256, "year": f.year, "breakdown": f.breakdown,
          "encoding": f.encoding, "data_rows": f.data_rows, "in_post_rows": len(f.in_post),
          "suppressed_cells": f.suppressed_cells, "notes_rows": len(f.notes), "version_note": f.version_note}
         for f in files],
        columns=["file_name", "sha256", "year", "breakdown", "encoding", "data_rows", "in_post_rows",
                 "suppressed_cells", "notes_rows", "version_note"],
    )


# ---------------------------------------------------------------------------------------------------------------
# Department mapping, by the date of the figure


@dataclass(frozen=True)
class DepartmentNames:
    """data/skills/department_names.yaml: what the register cannot know (ACSES groupings, missing closing dates)."""

    groupings: dict[str, str]  # normalised published name -> why it is not one department
    closed_on: dict[str, dt.date]  # slug -> date of a machinery-of-government change the register has no date for


def load_department_names(data_dir: Path) -> DepartmentNames:
    """DeclarationError, in words, when the file cannot be used (a missing file: nothing curated)."""
    where = f"data/{DEPARTMENT_NAMES_FILE.as_posix()}"
    raw = read_declaration(Path(data_dir) / DEPARTMENT_NAMES_FILE, where, missing_ok=True)
    groupings, closed_on = section(raw, "groupings", where), section(raw, "closed_on", where)
    closed = {}
    for slug, value in closed_on.items():
        try:
            closed[slug] = dt.date.fromisoformat(str(value))
        except ValueError:
            raise DeclarationError(f"{where}: closed_on for {slug} is not a date such as 2023-02-07.") from None
    return DepartmentNames(groupings={normalise(str(k)): str(v) for k, v in groupings.items()}, closed_on=closed)


MAPPING_COLUMNS = ["year", "as_at", "name_as_published", "organisation_slug", "organisation_name", "match_method",
                   "organisation_status", "closed_status", "closed_on", "department_slug", "department_code",
                   "department_name", "successor_departments", "mapping", "mapping_note", "unmapped_reason"]


def map_department_names(
    names: pd.DataFrame,
    organisations: pd.DataFrame,
    identifiers: pd.DataFrame,
    api: pd.DataFrame,
    aliases: OrganisationAliases,
    curated: DepartmentNames,
) -> pd.DataFrame:
    """Each (year, name_as_published) -> the department it is shown under, or why it is not mapped.

    The rule: a figure belongs to the body that existed on its date (ACSES names each department as it was).
    The body is found by name in the register (staging.organisation_identifiers, with the alias file's
    ``names``; never its ``successors``, which choose one successor for today's platform figures). Then:
    a body that still exists -> its department (today's code); a closed body whose work went to exactly one
    body (a rename or a merge, followed link by link) -> today's successor, the published name kept; a closed
    body with several successors (a split: BEIS, DCMS in February 2023) -> not divided: kept under its old name
    with department_code NULL, its successors listed by name. A devolved administration, an ACSES grouping of
    several departments, or a name the register does not know is not mapped, with the reason.
    """
    by_slug = organisations.set_index("organisation_slug")
    successors = {slug: [s for s in after if s]
                  for slug, after in zip(api["slug"].tolist(), api["successor_slugs"].tolist(), strict=True)}
    by_key: dict[str, dict[str, set[str]]] = {}
    for r in identifiers.itertuples(index=False):
        by_key.setdefault(r.identifier, {}).setdefault(r.kind, set()).add(r.organisation_slug)

    def find(name: str) -> tuple[str | None, str]:
        slug = aliases.alias_for(name)
        if slug:
            return slug, "alias file"
        for variant, how in name_variants(name):
            found = by_key.get(variant, {}).get("abbreviation" if how == "abbreviation" else "name", set())
            if len(found) == 1:
                return next(iter(found)), how
        return None, "unmatched"

    def name_of(slug: str) -> str:
        return " ".join(str(by_slug.at[slug, "name"]).split()) if slug in by_slug.index else slug

    def closed_on(slug: str) -> dt.date | None:
        if slug in curated.closed_on:
            return curated.closed_on[slug]
        value = by_slug.at[slug, "closed_at"] if slug in by_slug.index else None
        return dt.date.fromisoformat(str(value)[:10]) if value else None

    def is_devolved(slug: str) -> bool:
        related = [slug, *successors.get(slug, []), *str(by_slug.at[slug, "parent_slugs"] or "").split(";")]
        return any(s in by_slug.index and by_slug.at[s, "organisation_type"] == "Devolved government"
                   for s in related if s)

    def walk(slug: str) -> tuple[list[str], list[str] | None, str | None]:
        """Follow one-to-one successors while the body is closed -> (path, successors of a split, gap)."""
        path = [slug]
        while by_slug.at[path[-1], "status"] == "closed" and len(path) < 25:
            nexts = successors.get(path[-1], [])
            if len(nexts) > 1:
                return path, nexts, None
            if not nexts or nexts[0] not in by_slug.index:
                return path, None, (f"{name_of(path[-1])} has closed and GOV.UK names its successor '{nexts[0]}', "
                                    "which the register of June 2026 does not list" if nexts else
                                    f"{name_of(path[-1])} has closed and GOV.UK names no successor")
            if nexts[0] in path:
                break
            path.append(nexts[0])
        return path, None, None

    rows = []
    for year, name in names[["year", "name_as_published"]].drop_duplicates().itertuples(index=False):
        as_at = dt.date(int(year), 3, 31)
        row = dict.fromkeys(MAPPING_COLUMNS) | {"year": int(year), "as_at": as_at, "name_as_published": name}
        grouping = curated.groupings.get(normalise(name))
        slug, how = (None, "ACSES grouping") if grouping else find(name)
        row["match_method"] = how
        if grouping:
            rows.append(row | {"mapping": "not a department", "unmapped_reason": grouping})
            continue
        if slug is None or slug not in by_slug.index:
            rows.append(row | {"mapping": "not found", "unmapped_reason": "no GOV.UK organisation has this name, "
                               "in the register of June 2026, the April 2017 list or data/organisation_aliases.yaml"})
            continue
        org = by_slug.loc[slug]
        row |= {"organisation_slug": slug, "organisation_name": name_of(slug), "organisation_status": org["status"],
                "closed_status": None, "closed_on": closed_on(slug)}
        if is_devolved(slug):
            rows.append(row | {"mapping": "devolved", "unmapped_reason": f"{name_of(slug)} is part of a devolved "
                               "administration, not a UK government department"})
            continue
        path, split, gap = walk(slug)
        if gap:
            rows.append(row | {"mapping": "successor not in register", "unmapped_reason": gap})
            continue
        if split:
            row["closed_status"] = "split"
            names_after = [name_of(s) for s in split]
            when = closed_on(slug)
            closed = f"closed on {long_date(when)}" if when else "has since closed"
            after_close = when is not None and when < as_at
            listed = ", ".join(names_after[:-1]) + " and " + names_after[-1]
            rows.append(row | {
                "mapping": "split: not divided", "department_name": name,
                "successor_departments": "; ".join(names_after),
                "mapping_note": f"{name} {closed}; its staff on {long_date(as_at)} are shown under "
                f"{'its old name' if after_close else 'the department as it then was'}, not divided between "
                f"{listed}",
                "unmapped_reason": f"split later between {listed}: one figure cannot be divided between them"})
            continue
        current = path[-1]
        department = by_slug.at[current, "department_slug"]
        if department is None or (isinstance(department, float) and pd.isna(department)):
            rows.append(row | {"mapping": "no department", "unmapped_reason": f"{name_of(current)} has no UK "
                               "government department above it in the register"})
            continue
        note = None
        if len(path) > 1:
            when = closed_on(slug)
            note = (f"{name_of(slug)} became {name_of(current)}{' on ' + long_date(when) if when else ''}; the "
                    "figure is shown under today's department, with the name it was published under")
        elif normalise(name) != normalise(name_of(department)) and department == slug:
            note = f"Published as {name}; GOV.UK names it {name_of(department)}"
        rows.append(row | {"mapping": "department" if len(path) == 1 else "successor",
                           "department_slug": department,
                           "department_code": by_slug.at[department, "organisation_code"],
                           "department_name": name_of(department), "mapping_note": note})
    return pd.DataFrame(rows, columns=MAPPING_COLUMNS)
