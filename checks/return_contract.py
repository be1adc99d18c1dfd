"""The department return: every column, rule, limit and message, declared once.

Everything else is generated from this module: the CSV and Excel templates
(``checks/return_templates.py``), the list of rules (``checks/return_rules.py``) that
both the light evaluator and the Great Expectations suite apply, the parsing of
cells (``checks/return_validation.py``), the warehouse table
(``table_ddl``), and the labels the dashboard shows. Change the return here
and nowhere else.

A return is one row: one organisation's figures for one reporting quarter.
Quarters are financial-year quarters written the way government reports them:
"2025-26 Q3" is October to December 2025.

This module imports nothing heavy, so the command line and the dashboard can
read it without loading Dagster or Great Expectations.

Versions. The return changes by adding sections, never by changing or
removing a column, so a department is never asked to send a return again
because the template moved on. ``VERSIONS`` lists them: version 1 is the
platforms, forms and data sharing (with the blockers note); version 2 adds
the skills section (digital, data and technology staff, senior civil
servants' training and the main barriers). Each column says in ``since``
which version added it, and the new columns follow every earlier one, so a
column's letter never changes between versions. A file's version is read
from its header (``header_version``): the highest version any of whose
columns are there; every column of that version and the earlier ones must
then be there. A return made with an earlier template is accepted, read
with that version and recorded with it (``contract_version``), its later
sections "not reported" (``skills_reported`` false); a file with part of a
section is refused with one problem naming the missing columns.

To add version 3: add ``ContractVersion(3, "<section>", ...)`` to
``VERSIONS``; append its columns to ``COLUMNS`` with ``since=3`` (after
every existing column); add any rules between them to ``CROSS_FIELD_RULES``
or ``RANKED_CHOICES`` and any new message to ``MESSAGES``. Everything else
follows: the templates and their guidance, the rules and the Great
Expectations suite (the section's required columns are required only in
version-3 files), the header check, the warehouse tables (new columns and a
``<section>_reported`` flag, added to existing tables by ``upgrade_ddl`` on
the next run) and the version stated in the template. Then regenerate
``data/returns/template/`` (``tracker template --out data/returns/template``)
and write the marts that read the new section.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

# --- Limits on the file itself -------------------------------------------------

MAX_FILE_BYTES = 2 * 1024 * 1024  # a return is one row; 2 MB is generous
MAX_XLSX_UNCOMPRESSED_BYTES = 20 * 1024 * 1024  # zip bombs unpack far beyond this
MAX_DATA_ROWS = 1
ACCEPTED_EXTENSIONS = (".csv", ".xlsx")
TEMPLATE_SHEET = "Return"
GUIDANCE_SHEET = "Guidance"
LISTS_SHEET = "Lists"

# --- The quarters the tracker keeps ------------------------------------------

# The year before the Government Transformation Strategy (Feb 2017): its baseline,
# and the earliest quarter for which GOV.UK Verify figures are asked for. The one
# setting that moves it is ``first_quarter`` in data/returns/schedule.yaml (read by
# ``first_quarter()`` below): generated benchmark data (bench/generate.py) with a
# longer history sets it; the shipped schedule does not, so this default stands.
FIRST_QUARTER = "2016-17 Q1"
FIRST_QUARTER_SETTING = "first_quarter"
QUARTER_PATTERN = re.compile(r"^(\d{4})-(\d{2}) Q([1-4])$")
# A quarter's label as its rule checks it, in both engines: the form, and the second year following the first
# (2025-27 is no financial year), which a regular expression can only say by listing the hundred pairs
QUARTER_LABEL_RULE = r"^[0-9]{2}(?:" + "|".join(f"{y:02d}-{(y + 1) % 100:02d}" for y in range(100)) + r") Q[1-4]$"


@dataclass(frozen=True, order=True)
class Quarter:
    """A financial-year quarter: ``Quarter(2025, 3)`` is "2025-26 Q3", October to December 2025."""

    year: int  # the calendar year the financial year starts in
    number: int

    @classmethod
    def parse(cls, label: str) -> Quarter | None:
        match = QUARTER_PATTERN.match(label.strip()) if isinstance(label, str) else None
        if not match or (int(match[1]) + 1) % 100 != int(match[2]):
            return None
        return cls(int(match[1]), int(match[3]))

    @classmethod
    def containing(cls, day: dt.date) -> Quarter:
        year = day.year if day.month >= 4 else day.year - 1
        return cls(year, (day.month - 4) % 12 // 3 + 1)

    @property
    def label(self) -> str:
        return f"{self.year}-{(self.year + 1) % 100:02d} Q{self.number}"

    @property
    def start(self) -> dt.date:
        month = 4 + 3 * (self.number - 1)
        return dt.date(self.year + (month > 12), (month - 1) % 12 + 1, 1)

    @property
    def end(self) -> dt.date:
        return self.next().start - dt.timedelta(days=1)

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)


# The ways analysts write a financial-year quarter, all understood as "2025-26 Q3": the years joined by a
# hyphen, slash or dash, the second year as two or four digits, the quarter before or after, any case, any spaces.
_QUARTER_YEARS = r"(\d{4})\s*[-/\u2010-\u2015\u2212]\s*(\d{4}|\d{2})"
_QUARTER_SPELLINGS = (re.compile(rf"^{_QUARTER_YEARS}\s*q\s*([1-4])$", re.IGNORECASE),
                      re.compile(rf"^q\s*([1-4])\s*{_QUARTER_YEARS}$", re.IGNORECASE))
QUARTER_SPELLINGS_ACCEPTED = "2025-26 Q3, 2025/26 Q3, Q3 2025-26, 2025-26 q3, 2025-2026 Q3 or 2025\u201326 Q3"


def normalise_quarter(text: str) -> str:
    """A quarter as the contract writes it ("2025-26 Q3") when ``text`` is a common spelling of one, else ``text``.

    Only spellings whose two years follow each other are understood; anything else is returned as it is, so
    the quarter rule says it is not a reporting quarter.
    """
    squeezed = " ".join(text.split())
    for number, pattern in enumerate(_QUARTER_SPELLINGS):
        match = pattern.match(squeezed)
        if not match:
            continue
        quarter, first, second = (match[3], match[1], match[2]) if number == 0 else match.groups()
        start = int(first)
        if int(second) % (100 if len(second) == 2 else 10_000) == (start + 1) % (100 if len(second) == 2 else 10_000):
            return Quarter(start, int(quarter)).label
        return squeezed
    return squeezed


def first_quarter() -> str:
    """The earliest quarter a return may be for: ``first_quarter`` in the data folder's returns/schedule.yaml
    when it is set there, else FIRST_QUARTER."""
    from tracker.declaration_files import SCHEDULE_FILE  # light: YAML is imported when a file is read
    from tracker.settings import data_dir  # light: the environment and paths only

    path = data_dir() / SCHEDULE_FILE
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return FIRST_QUARTER
    return _configured_first_quarter(str(data_dir()), stamp)


@lru_cache(maxsize=8)
def _configured_first_quarter(data: str, _stamp: int) -> str:
    from pathlib import Path

    from tracker.declaration_files import SCHEDULE_FILE, read_schedule  # the one reader of declarations

    doc = read_schedule(Path(data))
    value = doc.get(FIRST_QUARTER_SETTING)
    if value is None:
        return FIRST_QUARTER
    quarter = Quarter.parse(str(value))
    if quarter is None:
        raise ValueError(f"{Path(data) / SCHEDULE_FILE}: {FIRST_QUARTER_SETTING} is {value!r}, not a quarter "
                         "written like 2016-17 Q1.")
    return quarter.label


def open_quarters(as_of: dt.date) -> list[str]:
    """Every quarter a return may be for on ``as_of``: started, and not older than ``first_quarter()``."""
    quarter, last, labels = Quarter.parse(first_quarter()), Quarter.containing(as_of), []
    while quarter <= last:
        labels.append(quarter.label)
        quarter = quarter.next()
    return labels


# --- Columns -------------------------------------------------------------------

CODE, QUARTER, COUNT, TEXT = "organisation code", "quarter", "whole number", "text"
NUMBER = "number"  # a non-negative number with decimals (full-time equivalents), kept to NUMBER_DECIMAL_PLACES
NUMBER_DECIMAL_PLACES = 2  # FTE as HR systems give it (412.53); more places are rounded, and the rounding recorded
MAX_COUNT = 1_000_000  # no organisation has a million services or forms
MAX_FTE = 100_000  # the largest department employs fewer people than this in all roles
MAX_TRANSACTIONS = 10_000_000_000
MAX_NOTE_CHARACTERS = 1000
# A text cell starting with one of these is run as a formula by spreadsheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    kind: str
    required: bool
    help: str
    example: str
    maximum: int | None = None
    since: int = 1  # the contract version that added the column: required only in returns of that version or later
    choices: tuple[str, ...] = ()  # for text picked from a fixed list: the allowed values, in the list's order


@dataclass(frozen=True)
class Platform:
    key: str  # column prefix
    name: str
    required: bool  # whether its service counts must be filled in
    serves: str  # what makes a service "in scope"
    transactions: str
    note: str = ""


PLATFORMS = [
    Platform("one_login", "GOV.UK One Login", True, "need users to sign in or prove their identity",
             "sign-ins and identity checks through GOV.UK One Login"),
    Platform("verify", "GOV.UK Verify", False, "needed users to prove their identity",
             "identity verifications through GOV.UK Verify",
             "Only for quarters up to 2023-24, when GOV.UK Verify closed; leave blank for later quarters."),
    Platform("pay", "GOV.UK Pay", True, "take payments from the public",
             "payments taken through GOV.UK Pay"),
    Platform("notify", "GOV.UK Notify", True, "send emails, text messages or letters",
             "emails, text messages and letters sent through GOV.UK Notify"),
    Platform("forms", "GOV.UK Forms", True, "offer forms to the public",
             "form submissions through GOV.UK Forms"),
]


def _platform_columns(p: Platform) -> list[Column]:
    optional = " Leave blank if it does not apply." if not p.required else ""
    return [
        Column(f"{p.key}_services_in_scope", f"{p.name}: services in scope", COUNT, p.required,
               f"How many of your services {p.serves}, whether or not they use {p.name}. "
               f"{p.note or ''}{optional}".strip(), "12", MAX_COUNT),
        Column(f"{p.key}_services_live", f"{p.name}: services live", COUNT, p.required,
               f"How many of those services use {p.name} now (at the end of the quarter). "
               f"Cannot be more than the services in scope.{optional}", "5", MAX_COUNT),
        Column(f"{p.key}_services_planned", f"{p.name}: services planned in the next four quarters", COUNT,
               p.required,
               f"How many services in scope but not yet live you plan to move onto {p.name} in the next "
               f"four quarters. Cannot be more than in scope minus live.{optional}", "3", MAX_COUNT),
        Column(f"{p.key}_transactions", f"{p.name}: transactions in the quarter (optional)", COUNT, False,
               f"How many {p.transactions} in the quarter, if you know. Leave blank if you do not.",
               "25000", MAX_TRANSACTIONS),
    ]


COLUMNS: list[Column] = [
    Column("organisation_code", "Organisation code", CODE, True,
           "Your organisation's GOV.UK organisation code, for example D10 for the Department for Work "
           "and Pensions or EA73 for HM Courts & Tribunals Service. Ask CDDO if you do not know it.", "D10"),
    Column("reporting_quarter", "Reporting quarter", QUARTER, True,
           "The financial-year quarter the figures are for, written like 2025-26 Q3 (October to December "
           f"2025). Pick it from the list. Quarters from {FIRST_QUARTER} up to the current one are accepted.",
           "2025-26 Q3"),
    *(column for p in PLATFORMS for column in _platform_columns(p)),
    Column("forms_total", "Forms: forms in total", COUNT, True,
           "How many forms your organisation offers the public in total, however they are filled in.",
           "120", MAX_COUNT),
    Column("forms_online", "Forms: forms available online", COUNT, True,
           "How many of those forms can be filled in and sent online. Cannot be more than forms in total.",
           "80", MAX_COUNT),
    Column("forms_paper_only", "Forms: forms that are paper only", COUNT, True,
           "How many forms can only be filled in on paper (printed or posted). Cannot be more than forms in "
           "total minus forms online.", "40", MAX_COUNT),
    Column("data_sharing_agreements", "Data sharing: agreements in force", COUNT, True,
           "How many data-sharing agreements with other public bodies were in force at the end of the quarter.",
           "7", MAX_COUNT),
    Column("apis_published", "Data sharing: APIs published", COUNT, True,
           "How many of your APIs are listed in the government API catalogue at the end of the quarter.",
           "2", MAX_COUNT),
    Column("blockers_note", "Blockers (optional)", TEXT, False,
           f"A short note on what is stopping faster adoption, in up to {MAX_NOTE_CHARACTERS} characters. "
           "Plain text: it cannot start with =, +, - or @.", "Waiting for a supplier contract to end in 2026."),
]
NOTE_COLUMN = "blockers_note"

# --- Version 2: the skills section ------------------------------------------------------

# The main barriers to adopting the common platforms, in the order the template lists them.
BARRIERS = ("digital skills", "legacy technology", "funding", "culture and leadership", "procurement",
            "data quality and access", "none", "other")
NO_BARRIER, OTHER_BARRIER = "none", "other"
BARRIER_RANKS = 3  # up to three barriers, most important first
_BARRIER_LIST = ", ".join(BARRIERS[:-1]) + " or " + BARRIERS[-1]

SKILLS_COLUMNS: list[Column] = [
    Column("ddat_staff_fte", "Skills: digital, data and technology staff (FTE)", NUMBER, True,
           "How many people work in digital, data and technology (DDaT) roles at the end of the quarter, as "
           f"full-time equivalents (FTE): a number like 412.5, up to {NUMBER_DECIMAL_PLACES} decimal places.",
           "412.5", MAX_FTE, since=2),
    Column("ddat_vacancies", "Skills: vacancies in digital, data and technology roles", COUNT, True,
           "How many DDaT posts were vacant (approved and funded, not filled) at the end of the quarter.",
           "37", MAX_COUNT, since=2),
    Column("senior_civil_servants", "Skills: senior civil servants", COUNT, True,
           "How many senior civil servants (SCS pay band 1 and above) your organisation has at the end of the "
           "quarter, as a headcount (people, not FTE), whatever their role.", "85", MAX_COUNT, since=2),
    Column("senior_civil_servants_trained", "Skills: senior civil servants trained in digital or data", COUNT, True,
           "How many of those senior civil servants completed digital or data training in the quarter. Cannot be "
           "more than senior civil servants.", "12", MAX_COUNT, since=2),
    *(Column(f"main_barrier_{rank}",
             "Barriers: main barrier to adopting the common platforms" if rank == 1 else
             f"Barriers: barrier {rank} (optional)", TEXT, rank == 1,
             ("The main thing stopping your organisation adopting the common platforms faster. Pick from the list: "
              f"{_BARRIER_LIST}. Pick none if nothing does (and leave barriers 2 and 3 blank); pick other and say "
              f"what it is in the blockers note ({NOTE_COLUMN}).") if rank == 1 else
             (f"The {'second' if rank == 2 else 'third'} most important barrier, if there is one, from the same list. "
              "Leave it blank if there is none; do not repeat a barrier."),
             "legacy technology" if rank == 1 else "digital skills" if rank == 2 else "funding",
             since=2, choices=BARRIERS)
      for rank in range(1, BARRIER_RANKS + 1)),
]
COLUMNS += SKILLS_COLUMNS
COLUMN_BY_NAME = {c.name: c for c in COLUMNS}
COLUMN_NAMES = [c.name for c in COLUMNS]
KEY_COLUMNS = ["organisation_code", "reporting_quarter"]


# --- Versions of the contract -------------------------------------------------------------


@dataclass(frozen=True)
class ContractVersion:
    """One version of the return: the section it added (its columns have ``since`` equal to its number)."""

    number: int
    section: str | None  # the section's key ("skills"): the flag ``<section>_reported``; None for version 1
    title: str  # what the version added, in words

    @property
    def flag(self) -> str | None:
        """The yes/no column saying whether a return reported this version's section."""
        return f"{self.section}_reported" if self.section else None


VERSIONS = (
    ContractVersion(1, None, "platforms, forms, data sharing and the blockers note"),
    ContractVersion(2, "skills", "the skills section: digital, data and technology staff, senior civil servants' "
                                 "training and the main barriers"),
)
CURRENT_VERSION = VERSIONS[-1].number
VERSION_COLUMN = "contract_version"  # recorded with every return: the version it was read with
SECTION_FLAGS = {v.flag: v.number for v in VERSIONS if v.flag}  # skills_reported -> 2
VERSION_COLUMNS = [VERSION_COLUMN, *SECTION_FLAGS]  # recorded beside the contract's columns, never in the file


def earlier_version_note(version: int) -> str | None:
    """What a sender is told about a return made with an earlier template: accepted, and what it does not report."""
    if version >= CURRENT_VERSION:
        return None
    sections = " and ".join(f"the {v.section} section" for v in VERSIONS if v.number > version)
    return (f"Made with the version {version} template: accepted as it is, and recorded as not reporting {sections}. "
            f"The current template (version {CURRENT_VERSION}) adds {sections}: please use it for your next return.")


def columns_of(version: int) -> list[Column]:
    """The columns of a return made with ``version`` of the template, in template order."""
    return [c for c in COLUMNS if c.since <= version]


def version_flags(version: int) -> dict[str, object]:
    """What a return read with ``version`` records beside its figures: the version and which sections it reported."""
    return {VERSION_COLUMN: version, **{flag: version >= since for flag, since in SECTION_FLAGS.items()}}


def section_flag(column: Column) -> str | None:
    """The flag of the section ``column`` belongs to (None for version 1's columns)."""
    return VERSIONS[column.since - 1].flag


def header_version(names: list[str]) -> int:
    """The version a header was made with: the highest any of whose columns it has (1 if none of the later ones)."""
    present = set(names)
    return max([c.since for c in COLUMNS if c.name in present], default=1)


@dataclass(frozen=True)
class RankedChoice:
    """Columns that rank picks from one list: ``alone`` only on its own, no repeats, in order, ``other`` explained."""

    columns: tuple[str, ...]
    alone: str  # the pick that means "nothing": it cannot stand with another pick
    other: str  # the pick that needs saying what it is in ``note``
    note: str


RANKED_CHOICES = [RankedChoice(tuple(f"main_barrier_{rank}" for rank in range(1, BARRIER_RANKS + 1)),
                               NO_BARRIER, OTHER_BARRIER, NOTE_COLUMN)]


# --- Rules between columns -------------------------------------------------------


@dataclass(frozen=True)
class AtMost:
    """``column`` must not exceed ``limit`` (a column) minus ``minus`` (a column, if any)."""

    name: str
    column: str
    limit: str
    minus: str | None
    fix: str

    @property
    def headroom(self) -> str:
        """The derived column the rule compares with (limit - minus), named for messages and GX."""
        return self.limit if self.minus is None else f"{self.limit}_minus_{self.minus}"


CROSS_FIELD_RULES: list[AtMost] = [
    *(AtMost(f"{p.key}_live_within_scope", f"{p.key}_services_live", f"{p.key}_services_in_scope", None,
             "Services live cannot be more than services in scope: check both figures.") for p in PLATFORMS),
    *(AtMost(f"{p.key}_planned_within_not_live", f"{p.key}_services_planned", f"{p.key}_services_in_scope",
             f"{p.key}_services_live",
             "Services planned can only be services in scope that are not live yet: check all three figures.")
      for p in PLATFORMS),
    AtMost("forms_online_within_total", "forms_online", "forms_total", None,
           "Forms online cannot be more than forms in total: check both figures."),
    AtMost("forms_paper_only_within_offline", "forms_paper_only", "forms_total", "forms_online",
           "Forms that are paper only cannot be more than forms in total minus forms online: check all three."),
    AtMost("trained_within_senior_civil_servants", "senior_civil_servants_trained", "senior_civil_servants", None,
           "Senior civil servants trained cannot be more than the senior civil servants in your organisation: check "
           "both figures."),
]

# Optional platforms (Verify) are all-or-nothing: in scope and live together.
PAIRED_OPTIONAL = [(f"{p.key}_services_in_scope", f"{p.key}_services_live") for p in PLATFORMS if not p.required]


# --- Plain-English messages, one per rule --------------------------------------------
# Placeholders: {label} the column's label, {value} the value as sent, and rule-specific ones.

MESSAGES = {
    "required": "{label} is empty. Enter a whole number (0 if there are none).",
    "required_text": "{label} is empty. {help}",
    "required_number": "{label} is empty. Enter a number, like {example} (0 if there are none).",
    "whole_number": "'{value}' is not a whole number. Enter digits only, like {example}, with no text or decimals.",
    "not_negative": "{value} is below zero. Enter 0 or more.",
    "too_large": "{value} is more than {maximum:,}, which no organisation has. Check the figure.",
    "not_a_number": "'{value}' is not a number. Enter digits only, like {example}, with a decimal point if needed and "
                    "no text.",
    "choice_known": "'{value}' is not on the list. Pick one of: {choices}.",
    "choice_alone": "{label} is '{value}', but {others} also {name} a barrier. Pick '{value}' only when there is no "
                    "barrier: clear the other barriers, or change this one.",
    "choice_repeated": "'{value}' is already given in {other_label}. Name each barrier once: pick a different one or "
                       "leave this one blank.",
    "choice_in_order": "{label} is filled in but {other_label} is blank. Fill the barriers in order, most important "
                       "first: move this one into {other_label}.",
    "organisation_known": "'{value}' is not a GOV.UK organisation code the tracker knows. Use your "
                          "organisation's code, like D10; ask CDDO if you are not sure.",
    "quarter_format": "'{value}' is not a reporting quarter. Write it like 2025-26 Q3 (October to December 2025).",
    "quarter_open": "'{value}' is not a quarter you can send a return for. It must have started and be no "
                    "earlier than {first_quarter}; the latest is {latest_quarter}.",
    "at_most": "{label} ({value}) is more than {limit_text} ({limit_value}). {fix}",
    "paired": "{label} is filled in but {other_label} is not. Fill in both, or leave both blank.",
    "note_too_long": "{label} is {length:,} characters long. Shorten it to {maximum:,} characters or fewer.",
    "no_formula": "{label} starts with '{first}', which spreadsheets run as a formula. Start the note with a "
                  "letter or a number instead.",
    "one_return_per_row": "This is the same organisation and quarter as row {other_row}. Send one row for each "
                          "organisation and quarter.",
    "extra_values": "This row has values to the right of the last column ({last_column}). Delete them or move them "
                    "into the right column.",
    # Rules about the whole submission rather than one cell.
    "one_row": "The file has {rows:,} rows of figures. A return is one row: one organisation and one quarter. Send "
               "each quarter in its own file.",
    "rows_not_checked": "The first {checked} were checked; the other {others:,} were not.",
    "submitter_matches": "The return is for {value}, but it was sent by {submitter}. An organisation can only "
                         "send its own return: ask {value} to send it, or correct the organisation code.",
}
# Soft rules: the return is accepted, with a warning the sender sees.
WARNINGS = {
    "transactions_missing": "{label} is blank although {live} service(s) are live. Add it if you can: it "
                            "helps show how much the platform is used.",
    "verify_after_closure": "{label} is filled in for {quarter}, after GOV.UK Verify closed. Check the figures "
                            "are for the right quarter.",
    "choice_other_unexplained": "{label} is 'other' but the blockers note ({note_column}) is empty. Say in the note "
                                "what the barrier is.",
    "windows_encoding": "The file is not UTF-8; it was read as Windows-1252, which Excel uses for "
                        "'CSV (Comma delimited)'. Check that any £ signs or accented letters in the note look right.",
}
VERIFY_LAST_QUARTER = "2023-24 Q4"

# --- Thresholds for the checks that tell CDDO what to chase ---------------------------
# Stated here so the asset checks, the marts and the dashboard all say the same thing.

PLAUSIBLE_CHANGE_SHARE = 0.5  # a figure that falls or rises by more than half quarter on quarter...
PLAUSIBLE_CHANGE_MINIMUM = 3  # ...and by more than 3 (small counts move by a few)
RECONCILIATION_SHARE = 0.10  # reported live Pay services vs GOV.UK Pay's own figure: within 10%...
RECONCILIATION_MINIMUM = 1  # ...or within 1 service, whichever is larger


SQL_TYPES = {CODE: "VARCHAR", QUARTER: "VARCHAR", COUNT: "BIGINT", NUMBER: "DOUBLE", TEXT: "VARCHAR"}


def table_ddl(table: str, extra_columns: str = "", version: int = CURRENT_VERSION) -> str:
    """The warehouse table for accepted returns, generated from the columns above.

    ``version``: the table as that version of the contract made it (version 1 had no version columns): what
    ``upgrade_ddl`` brings up to date. A later section's required columns are nullable: earlier returns lack them.
    """
    columns = [f"{c.name} {SQL_TYPES[c.kind]}{' NOT NULL' if c.required and c.since == 1 else ''}"
               for c in columns_of(version)]
    if version > 1:
        columns += [f"{VERSION_COLUMN} INTEGER NOT NULL",
                    *(f"{flag} BOOLEAN NOT NULL" for flag, since in SECTION_FLAGS.items() if since <= version)]
    body = ",\n    ".join([*columns, *filter(None, [extra_columns])])
    return f"CREATE TABLE IF NOT EXISTS {table} (\n    {body},\n    PRIMARY KEY ({', '.join(KEY_COLUMNS)})\n)"


def upgrade_ddl(table: str) -> list[str]:
    """ALTERs that bring a table made by an earlier version (``table_ddl``) up to this one, keeping every row.

    Rows already there were read with version 1 (the only one before versions were recorded), so they get
    contract_version 1 and every section flag false; the default is dropped again, so a new row always says.
    """
    statements = [f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {c.name} {SQL_TYPES[c.kind]}"
                  for c in COLUMNS if c.since > 1]
    for column, sql_type, default in [(VERSION_COLUMN, "INTEGER", "1"),
                                      *((flag, "BOOLEAN", "false") for flag in SECTION_FLAGS)]:
        statements += [f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {sql_type} DEFAULT {default}",
                       f"ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT"]
    return statements


def column_letter(index: int) -> str:
    """Spreadsheet column letter for a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters
