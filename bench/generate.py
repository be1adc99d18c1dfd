"""A GENERATED data folder at any scale, in exactly the formats the tracker reads (issue 17).

``generate(out, size, seed)`` writes a folder the tracker can read as TRACKER_DATA_DIR:

- ``pay/``: weekly snapshots of GOV.UK Pay's ``performance.json`` and ``versions.csv``, byte for byte in
  the real files' layout (``json.dumps(indent=2, ensure_ascii=False)``, no final newline; names
  ``<commit date>_<sha8>.json``), each organisation's live services on a logistic (S-shaped) curve with a
  staggered start, organisations joining, leaving and replaced by a successor, and spellings that drift
  between snapshots (case, '&'/'and', a trailing abbreviation, trailing spaces, 'The ', abbreviated words,
  typos, an old name): the tracker's matching resolves most and leaves the rest unmatched, as it must;
- ``data_sharing/``: API catalogue versions (``catalogue_versions/*.csv`` + ``versions.csv``) and the
  catalogue's organisation list;
- ``one_login/``: the relying-party registry (CRLF, as the real one) and its event history;
- ``organisations/``: a GENERATED organisation register in the GOV.UK organisations API's format (and the
  2017 list and register TSVs), with ``organisation_aliases.yaml`` naming only generated bodies;
- ``returns/schedule.yaml``: the generated returners as expected submitters;
- ``inbox/<ORG>/``: the returns as ``tracker/return_inbox.py``'s ``deliver`` writes them (file + JSON
  sidecar, marked illustrative), to be copied into ``TRACKER_HOME/returns/inbox/``; about 4% are bad in
  the ways the contract refuses, one in a hundred are resent duplicates, and some carry warnings;
- everything that does not scale (targets, feeds, skills, Notify, Forms, Verify, the templates) copied
  from the shipped ``data/``.

Every name carries the marker ``[generated]``, every code starts ``GEN``, every slug ``gen-``, every
return is delivered as illustrative and its note says GENERATED, and ``generated.json`` records the seed,
the sizes and the counts. The same seed and size give the same bytes: nothing reads the clock.

    python -m bench.generate --size small --seed 20261203 --out /tmp/scale-small
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import json
import math
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import yaml

from checks.return_contract import FIRST_QUARTER, VERIFY_LAST_QUARTER, Quarter, columns_of
from tracker.return_inbox import SIDECAR, content_hash, safe_name, submission_reference

LONDON = ZoneInfo("Europe/London")
MARKER = "[generated]"
NOTE = "GENERATED return for benchmarking: not real figures."
CHANNEL = "generated for benchmarking (not real)"
SENDER = "generated benchmark sender (not a real person)"
MANIFEST = "generated.json"
AS_OF_NOTE = "GENERATED benchmark data (bench/generate.py): not real figures"
REAL_DATA = Path(__file__).resolve().parent.parent / "data"
# Shipped files that do not scale: copied as they are.
COPIED = ["targets.yaml", "feeds.yaml", "targets", "skills", "notify", "forms", "verify", "returns/template",
          "returns/access.example.yaml"]
SECTORS = ("local", "central", "police", "nhstrust", "nhscentral", "other")
SECTOR_SHARE = (0.35, 0.25, 0.08, 0.15, 0.05, 0.12)
KINDS = {
    "local": ["Borough Council", "District Council", "City Council", "County Council", "Town Council",
              "Fire and Rescue Service", "Combined Authority", "Parish Council"],
    "central": ["Agency", "Office", "Service", "Commission", "Authority", "Board", "Inspectorate", "Registry",
                "Tribunal", "Institute", "Directorate", "Standards and Licensing Office"],
    "police": ["Police", "Constabulary", "Police and Crime Commissioner"],
    "nhstrust": ["NHS Trust", "NHS Foundation Trust", "Hospitals NHS Trust", "Community Health Trust"],
    "nhscentral": ["Health Board", "Integrated Care Board"],
    "other": ["Squadron", "Harbour Authority", "Museum", "Heritage Trust", "Drainage Board"],
}
CENTRAL_FORMATS = ["Executive non-departmental public body", "Advisory non-departmental public body", "Other",
                   "Tribunal", "Public corporation", "Sub organisation"]
PREFIXES = ["Ald", "Bram", "Cal", "Dun", "Elm", "Fair", "Glen", "Hart", "Ing", "Kel", "Lang", "Mar", "Nor", "Oak",
            "Pen", "Quen", "Ros", "Stan", "Thorn", "Ul", "Ven", "Wes", "Yar", "Ash", "Brook", "Cran", "Dray", "Eg",
            "Fen", "Gras", "Hol", "Kirk", "Lox", "Mil", "Ned", "Ox", "Pol", "Rad", "Sal", "Tarn", "Upt", "Wal",
            "Hay", "Lit", "Mel", "Bel", "Cor", "Dar", "Ever", "Fal"]
SUFFIXES = ["ford", "wick", "ton", "bury", "ham", "ley", "field", "worth", "by", "mouth", "stead", "dale", "bridge",
            "minster", "port", "combe", "hurst", "thorpe", "well", "moor", "den", "ing", "wood", "holm", "gate",
            "sey", "brook", "mere", "wold", "stow"]
QUALIFIERS = ["", "", "", "North ", "South ", "East ", "West ", "Upper ", "Lower ", "Great ", "Little "]
TOPICS = ["Coastal Affairs", "Rural Skills", "Public Works", "Civic Records", "Inland Waterways", "Trade Standards",
          "Digital Services", "Regional Growth", "Heritage", "Land and Housing", "Borders", "Energy Supply",
          "Family Support", "Transport Safety", "Justice Services", "Revenue", "Health Protection", "Education"]
WORD_SHORTENINGS = {"Council": "Cncl", "Borough Council": "BC", "District Council": "DC", "Department": "Dept",
                    "Service": "Svc", "Authority": "Auth", "Police and Crime Commissioner": "PCC",
                    "County Council": "CC", "Foundation": "Fdn", "Hospitals": "Hosps"}
DRIFTS = ("upper", "lower", "ampersand", "abbreviation_suffix", "trailing_space", "the_prefix", "shortened",
          "typo", "old_name")
DRIFT_WEIGHTS = (0.10, 0.08, 0.12, 0.16, 0.12, 0.12, 0.12, 0.12, 0.06)
BAD_KINDS = ("wrong_quarter", "negative_number", "missing_column", "text_in_number", "wrong_organisation")
BAD_RULES = {"wrong_quarter": "quarter_format", "negative_number": "not_negative", "missing_column": "file",
             "text_in_number": "whole_number", "wrong_organisation": "submitter_matches"}
WARNING_KINDS = ("transactions_missing", "verify_after_closure", "choice_other_unexplained", "windows_encoding")
BARRIERS = ("digital skills", "legacy technology", "funding", "culture and leadership", "procurement",
            "data quality and access")


@dataclass(frozen=True)
class ScaleSpec:
    """How much to generate: organisations and weeks of Pay history, returners and quarters of returns."""

    organisations: int
    weeks: int
    returners: int
    quarters: int
    end: dt.date = dt.date(2026, 3, 30)  # the Monday of the last weekly snapshot
    name: str = "custom"

    @property
    def last_quarter(self) -> Quarter:
        return Quarter.containing(self.end)

    @property
    def first_quarter(self) -> Quarter:
        quarter = self.last_quarter
        for _ in range(self.quarters - 1):
            quarter = quarter.previous()
        return quarter

    @property
    def deadline_days(self) -> int:
        return 30

    @property
    def as_of(self) -> dt.date:
        """A reporting date after the last quarter's deadline and every generated return."""
        return self.last_quarter.end + dt.timedelta(days=self.deadline_days + 21)


SIZES = {
    "small": ScaleSpec(400, 26, 60, 4, name="small"),
    "medium": ScaleSpec(4_000, 104, 300, 12, name="medium"),
    "national": ScaleSpec(40_000, 520, 1_500, 40, name="national"),
}


@dataclass
class GeneratedManifest:
    """What was generated: written to ``generated.json`` beside the data."""

    seed: int
    size: dict
    counts: dict = field(default_factory=dict)
    returns: list[dict] = field(default_factory=list)  # each delivered file: org, quarter, kind, expected status
    # how to run the tracker on it: the note is shown beside the reporting date on every dashboard page
    environment: dict = field(default_factory=dict)
    note: str = ("Every organisation, name, figure and return in this folder is GENERATED by bench/generate.py for "
                 "benchmarking: none of it is real. Names carry '[generated]', codes start 'GEN', slugs 'gen-'. "
                 "Files copied from the shipped data/ (targets, feeds, skills, Notify, Forms, Verify, templates) "
                 "are real and unchanged.")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"


def spec_for(size: str | ScaleSpec, **overrides: int | None) -> ScaleSpec:
    """A named size (small, medium, national) or a spec, with any axis overridden."""
    spec = size if isinstance(size, ScaleSpec) else SIZES[size]
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(spec, **given, name=spec.name if not given else f"{spec.name}+custom") if given else spec


# --- small helpers -------------------------------------------------------------------------------------------


def _hex(rng: np.random.Generator, n: int = 40) -> str:
    return "".join(f"{b:02x}" for b in rng.integers(0, 256, n // 2, dtype=np.uint8))


def _london_iso(moment: dt.datetime) -> str:
    return moment.astimezone(LONDON).isoformat()


def _long_date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _slugify(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _csv_text(rows: list[list[object]], line_end: str = "\n") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=line_end).writerows(rows)
    return buffer.getvalue()


def _write(path: Path, content: str | bytes) -> int:
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(data)


def _quantity(value: float) -> str:
    """Pay's way: '142.9 million', '9.6 billion'."""
    return f"{value / 1e9:.1f} billion" if value >= 1e9 else f"{value / 1e6:.1f} million"


# --- the organisation register -------------------------------------------------------------------------------


@dataclass
class Register:
    """The generated bodies, index-aligned arrays and lists (index 0.. n-1)."""

    base: list[str]
    abbreviation: list[str | None]
    sector: np.ndarray  # index into SECTORS
    format: list[str]
    parent: np.ndarray  # index of the parent body, -1 for a department
    departments: list[int]
    old_base: dict[int, str]  # bodies with a 2017 name that differs
    closed_week: dict[int, int]  # body -> week it closed (its successor carries on)
    successor: dict[int, int]

    @property
    def size(self) -> int:
        return len(self.base)

    def title(self, i: int) -> str:
        return f"{self.base[i]} {MARKER}"

    def slug(self, i: int) -> str:
        return f"gen-{_slugify(self.base[i])}"

    def code(self, i: int) -> str:
        return f"GEN{i + 1:05d}"


def _unique_places(rng: np.random.Generator, n: int) -> list[str]:
    combos = len(QUALIFIERS) * len(PREFIXES) * len(SUFFIXES)
    picks = rng.choice(combos, size=min(n, combos), replace=False)
    out = []
    for p in picks:
        q, rest = divmod(int(p), len(PREFIXES) * len(SUFFIXES))
        a, b = divmod(rest, len(SUFFIXES))
        out.append(f"{QUALIFIERS[q]}{PREFIXES[a]}{SUFFIXES[b]}")
    return out


def build_register(rng: np.random.Generator, spec: ScaleSpec) -> Register:
    n = spec.organisations
    n_dep = max(5, min(40, round(math.sqrt(n) / 5)))
    sector = rng.choice(len(SECTORS), size=n, p=SECTOR_SHARE)
    sector[:n_dep] = SECTORS.index("central")
    bases: list[str] = []
    seen: set[str] = set()
    places = _unique_places(rng, 20 * n + 100)
    cursor = 0
    for i in range(n):
        while True:
            place = places[cursor % len(places)]
            cursor += 1
            if i < n_dep:
                name = f"Department of {place} {TOPICS[i % len(TOPICS)]}"
            else:
                kinds = KINDS[SECTORS[sector[i]]]
                name = f"{place} {kinds[int(rng.integers(len(kinds)))]}"
            if name.lower() not in seen:
                seen.add(name.lower())
                bases.append(name)
                break
    abbreviation: list[str | None] = [None] * n
    formats = ["Other"] * n
    parent = np.full(n, -1)
    agency_share = 0.04
    for i in range(n):
        if i < n_dep:
            abbreviation[i] = f"GD{_letters(i)}"
            formats[i] = "Ministerial department" if i % 5 else "Non-ministerial department"
            continue
        if SECTORS[sector[i]] == "central":
            abbreviation[i] = "".join(w[0] for w in bases[i].replace("-", " ").split() if w[0].isupper())
            formats[i] = "Executive agency" if rng.random() < agency_share / 0.25 else CENTRAL_FORMATS[
                int(rng.integers(len(CENTRAL_FORMATS)))]
    agencies = [i for i in range(n) if formats[i] == "Executive agency"]
    for i in range(n_dep, n):
        if agencies and formats[i] != "Executive agency" and rng.random() < 0.3:
            parent[i] = agencies[int(rng.integers(len(agencies)))]
        else:
            parent[i] = int(rng.integers(n_dep))
    old_base = {}
    for i in range(n_dep, n):
        if rng.random() < 0.03:
            words = bases[i].split()
            old_base[i] = " ".join(["Former", *words])  # the name it had in 2017
    # machinery of government: a body closes and a successor carries on its services
    closed_week, successor = {}, {}
    candidates = rng.permutation(np.arange(n_dep, n))
    pairs = max(1, int(0.02 * n))
    for a, b in zip(candidates[:pairs], candidates[pairs:2 * pairs], strict=True):
        closed_week[int(a)] = int(rng.integers(max(1, spec.weeks // 5), max(2, spec.weeks * 9 // 10)))
        successor[int(a)] = int(b)
    return Register(bases, abbreviation, sector, formats, parent, list(range(n_dep)), old_base, closed_week,
                    successor)


def _letters(i: int) -> str:
    text = ""
    i += 26  # at least two letters: GDAA, GDAB ...
    while i:
        i, r = divmod(i, 26)
        text = chr(65 + r) + text
    return text


def _link(slug: str) -> dict:
    return {"id": f"https://www.gov.uk/api/organisations/{slug}",
            "web_url": f"https://www.gov.uk/government/organisations/{slug}"}


def _week_date(spec: ScaleSpec, week: int) -> dt.date:
    return spec.end - dt.timedelta(weeks=spec.weeks - 1 - week)


def write_register(out: Path, reg: Register, spec: ScaleSpec, rng: np.random.Generator) -> dict:
    """The GOV.UK organisations API format (the 2026 file's layout), the 2017 list and the 2017 register."""
    children: dict[int, list[int]] = {}
    for i in range(reg.size):
        if reg.parent[i] >= 0:
            children.setdefault(int(reg.parent[i]), []).append(i)
    superseded = {b: a for a, b in reg.successor.items()}
    results = []
    for i in range(reg.size):
        closed = i in reg.closed_week
        closed_at = (f"{_week_date(spec, reg.closed_week[i]).isoformat()}T00:00:00.000+01:00" if closed else None)
        results.append({
            "analytics_identifier": reg.code(i),
            "child_organisations": [_link(reg.slug(c)) for c in children.get(i, [])],
            "details": {
                "abbreviation": reg.abbreviation[i],
                "closed_at": closed_at,
                "content_id": f"generated-{i + 1:08d}",
                "govuk_closed_status": "replaced" if closed else None,
                "govuk_status": "closed" if closed else "live",
                "logo_formatted_name": f"GENERATED\n{reg.base[i]}",
                "organisation_brand_colour_class_name": None,
                "organisation_logo_type_class_name": "no-identity",
                "slug": reg.slug(i),
            },
            "format": reg.format[i],
            "id": f"https://www.gov.uk/api/organisations/{reg.slug(i)}",
            "parent_organisations": [] if reg.parent[i] < 0 else [_link(reg.slug(int(reg.parent[i])))],
            "superseded_organisations": [_link(reg.slug(superseded[i]))] if i in superseded else [],
            "superseding_organisations": [_link(reg.slug(reg.successor[i]))] if closed else [],
            "title": reg.title(i),
            "updated_at": f"{spec.end.isoformat()}T00:00:00Z",
            "web_url": f"https://www.gov.uk/government/organisations/{reg.slug(i)}",
        })
    folder = out / "organisations"
    size = _write(folder / f"govuk_api_organisations_{spec.end.isoformat()}.json",
                  json.dumps({"results": results}, indent=3, ensure_ascii=False, sort_keys=True,
                             separators=(",", " : ")) + "\n")
    # the 2017 list: a tenth of the bodies under their 2017 names, and a few 2017-only bodies
    in_2017 = sorted({*reg.departments, *reg.old_base, *(int(i) for i in rng.choice(
        reg.size, size=max(1, reg.size // 10), replace=False))})
    rows = [["government-organisation", "abbreviation", "government-organisation-type", "govuk", "name", "website",
             "parent-govuks"]]
    register_rows = [["government-organisation", "name", "website", "start-date", "end-date"]]
    for i in in_2017:
        base = reg.old_base.get(i, reg.base[i])
        slug = f"gen-{_slugify(base)}"
        parent = "" if reg.parent[i] < 0 else reg.slug(int(reg.parent[i]))
        rows.append([reg.code(i), reg.abbreviation[i] or "", reg.format[i], slug, f"{base} {MARKER}",
                     f"https://www.gov.uk/government/organisations/{slug}", parent])
        register_rows.append([reg.code(i), f"{base} {MARKER}",
                              f"https://www.gov.uk/government/organisations/{slug}", "", ""])
    for k in range(max(1, reg.size // 200)):  # bodies gone by 2026: the tracker keeps them as closed bodies of 2017
        base = f"Dissolved {PREFIXES[k % len(PREFIXES)]}{SUFFIXES[k // len(PREFIXES) % len(SUFFIXES)]} Board {k}"
        slug = f"gen-{_slugify(base)}"
        rows.append([f"GENX{k + 1:04d}", "", "Other", slug, f"{base} {MARKER}",
                     f"https://www.gov.uk/government/organisations/{slug}", reg.slug(k % len(reg.departments))])
        register_rows.append([f"GENX{k + 1:04d}", f"{base} {MARKER}",
                              f"https://www.gov.uk/government/organisations/{slug}", "", "2017-03-31"])
    size += _write(folder / "govuk_organisations_list_2017-04.tsv", _csv_tsv(rows))
    size += _write(folder / "government_organisation_register_2017-10.tsv", _csv_tsv(register_rows))
    return {"register_bodies": reg.size, "register_bytes": size}


def _csv_tsv(rows: list[list[str]]) -> str:
    return "".join("\t".join(r) + "\n" for r in rows)


# --- GOV.UK Pay ------------------------------------------------------------------------------------------------


@dataclass
class PayModel:
    services: np.ndarray  # weeks x organisations, live services (0: not listed)
    variant: np.ndarray  # weeks x organisations, index into the body's spellings
    spellings: list[list[str]]  # per body: its spellings as published (0: the register's title)
    drift_kinds: list[list[str]]


def _drift(base: str, kind: str, abbreviation: str | None, old: str | None, rng: np.random.Generator) -> str | None:
    """One spelling of a body's name as a platform might publish it, or None when the kind does not apply."""
    if kind == "upper":
        return f"{base.upper()} {MARKER.upper()}"
    if kind == "lower":
        return f"{base.lower()} {MARKER}"
    if kind == "ampersand":
        return f"{base.replace(' and ', ' & ')} {MARKER}" if " and " in base else None
    if kind == "abbreviation_suffix":
        short = abbreviation or "".join(w[0] for w in base.split() if w[0].isupper())
        return f"{base} {MARKER} – {short}" if rng.random() < 0.6 else f"{base} {MARKER} ({short})"
    if kind == "trailing_space":
        return f"{base} {MARKER} "
    if kind == "the_prefix":
        return f"The {base} {MARKER}"
    if kind == "shortened":
        for long, short in WORD_SHORTENINGS.items():
            if long in base:
                return f"{base.replace(long, short)} {MARKER}"
        return None
    if kind == "typo":
        letters = [i for i in range(1, len(base) - 1) if base[i].isalpha() and base[i + 1].isalpha()]
        if not letters:
            return None
        at = letters[int(rng.integers(len(letters)))]
        return f"{base[:at]}{base[at + 1]}{base[at]}{base[at + 2:]} {MARKER}"
    if kind == "old_name":
        return f"{old} {MARKER}" if old else None
    raise ValueError(kind)


def build_pay(rng: np.random.Generator, reg: Register, spec: ScaleSpec) -> PayModel:
    n, weeks = reg.size, spec.weeks
    uses_pay = rng.random(n) < 0.92
    cap = np.maximum(1, np.round(np.exp(rng.normal(0.7, 0.9, n)))).astype(np.float32)
    cap[reg.departments] *= 6
    # most bodies took Pay up before or early in the history; the rest join through it (staggered S-curves)
    midpoint = np.where(rng.random(n) < 0.7, rng.uniform(-1.0 * weeks, 0.1 * weeks, n),
                        rng.uniform(0.0, 1.05 * weeks, n)).astype(np.float32)
    rate = (rng.uniform(0.03, 0.2, n) * max(1.0, 104 / max(weeks, 1)) ** 0.5).astype(np.float32)
    services = np.zeros((weeks, n), dtype=np.int16)
    for first in range(0, weeks, 52):  # a year at a time: float temporaries stay small at 40,000 bodies
        t = np.arange(first, min(weeks, first + 52), dtype=np.float32)[:, None]
        with np.errstate(over="ignore"):  # exp overflows to inf long before a body starts: 0 services
            services[first:first + len(t)] = np.floor(cap / (1 + np.exp(-rate * (t - midpoint))) + 0.5)
    services[:, ~uses_pay] = 0
    leaves = (rng.random(n) < 0.04) & uses_pay
    for i in np.flatnonzero(leaves):
        services[int(rng.integers(weeks // 3, weeks)):, i] = 0
    for a, b in reg.successor.items():  # the successor publishes the closed body's services from its closing week
        week = reg.closed_week[a]
        services[:, b] = 0
        services[week:, b] = np.maximum(services[week:, a], 1) if uses_pay[a] else 0
        services[week:, a] = 0
    spellings: list[list[str]] = []
    kinds: list[list[str]] = []
    variant = np.zeros((weeks, n), dtype=np.int8)
    changes = rng.poisson(0.3 + 0.7 * weeks / 520, n)
    published: dict[str, int] = {}
    for i in range(n):
        names, how = [reg.title(i)], ["title"]
        for _ in range(int(changes[i])):
            kind = DRIFTS[int(rng.choice(len(DRIFTS), p=DRIFT_WEIGHTS))]
            name = _drift(reg.base[i], kind, reg.abbreviation[i], reg.old_base.get(i), rng)
            if name is None or published.get(name, i) != i or name in names:
                continue
            names.append(name)
            how.append(kind)
            start = int(rng.integers(0, weeks))
            variant[start:, i] = len(names) - 1 if rng.random() < 0.7 else 0  # some drift and drift back
            if start + 1 < weeks and rng.random() < 0.3:
                variant[int(rng.integers(start + 1, weeks)):, i] = 0
        for name in names:
            published[name] = i
        spellings.append(names)
        kinds.append(how)
    return PayModel(services, variant, spellings, kinds)


def write_pay(out: Path, reg: Register, pay: PayModel, spec: ScaleSpec, rng: np.random.Generator) -> dict:
    """Weekly snapshots as GOV.UK Pay publishes them, and versions.csv (when each was published)."""
    folder = out / "pay" / "snapshots"
    folder.mkdir(parents=True, exist_ok=True)
    # every spelling of every body, its JSON key written once, ranked in Python's sort order (the files are sorted)
    owners, indexes, keys = [], [], []
    for i, names in enumerate(pay.spellings):
        for v, name in enumerate(names):
            owners.append(i)
            indexes.append(v)
            keys.append(name)
    order = sorted(range(len(keys)), key=keys.__getitem__)
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys))
    first_spelling = np.zeros(reg.size, dtype=np.int64)
    seen = set()
    for k, i in enumerate(owners):
        if i not in seen:
            first_spelling[i] = k
            seen.add(i)
    encoded = np.array([f"    {json.dumps(k, ensure_ascii=False)}: " for k in keys], dtype=object)
    sector_of = reg.sector
    payments, amount = 9.5e6 * spec.organisations / 580, 6.2e8 * spec.organisations / 580
    versions = [["file", "commit", "committed_at", "authored_at", "main_commit", "published_at"]]
    total_bytes, files, org_weeks = 0, 0, 0
    for w in range(spec.weeks):
        counts = pay.services[w]
        live = np.flatnonzero(counts > 0)
        ids = first_spelling[live] + pay.variant[w, live]
        ranked = np.argsort(rank[ids], kind="stable")
        ids, live = ids[ranked], live[ranked]
        total = int(counts[live].sum())
        payments += total * 120.0
        amount += total * 120.0 * 65.0
        commit_day = _week_date(spec, w) + dt.timedelta(days=int(rng.integers(0, 2)))
        updated = commit_day - dt.timedelta(days=int(rng.integers(0, 3)))
        by_sector = np.bincount(sector_of[live], weights=counts[live], minlength=len(SECTORS)).astype(np.int64)
        sector_order = sorted(range(len(SECTORS)), key=lambda s: -by_sector[s])
        published_services = total + (int(rng.integers(-2, 3)) if rng.random() < 0.05 else 0)
        versions_this_week = 2 if rng.random() < 0.01 else 1
        for attempt in range(versions_this_week):
            shown = published_services + attempt  # a correction published the same day
            body = [
                "{",
                f'  "dateUpdated": "{_long_date(updated)}",',
                f'  "numberOfPayments": "{_quantity(payments)}",',
                f'  "totalPaymentAmount": "{_quantity(amount)}",',
                f'  "numberOfServices": {max(shown, 0)},',
                f'  "numberOfOrganisations": {len(live)},',
                '  "serviceCountBySector": {',
                ",\n".join(f'    "{SECTORS[s]}": {int(by_sector[s])}' for s in sector_order),
                "  },",
                '  "serviceCountByOrganisation": {' if len(live) else '  "serviceCountByOrganisation": {}',
            ]
            text = "\n".join(body)
            if len(live):
                text += "\n" + ",\n".join(encoded[ids] + counts[live].astype(str).astype(object)) + "\n  }"
            text += "\n}"
            commit = _hex(rng)
            name = f"{commit_day.isoformat()}_{commit[:8]}.json"
            total_bytes += _write(folder / name, text)
            files += 1
            committed = dt.datetime.combine(commit_day, dt.time(9 + 2 * attempt, int(rng.integers(0, 60)),
                                                                 int(rng.integers(0, 60))), LONDON)
            authored = committed - dt.timedelta(minutes=int(rng.integers(0, 90)))
            published = committed + dt.timedelta(minutes=int(rng.integers(3, 240)))
            versions.append([name, commit, _london_iso(committed), _london_iso(authored), _hex(rng),
                             _london_iso(published)])
        org_weeks += len(live)
    total_bytes += _write(out / "pay" / "versions.csv", _csv_text(versions))
    return {"pay_snapshots": files, "pay_bytes": total_bytes, "organisation_weeks": org_weeks,
            "pay_names_published": len(keys)}


# --- the API catalogue -----------------------------------------------------------------------------------------


CATALOGUE_HEADER = ["dateAdded", "dateUpdated", "url", "name", "description", "documentation", "license",
                    "maintainer", "areaServed", "startDate", "endDate", "provider"]


def write_catalogue(out: Path, reg: Register, spec: ScaleSpec, rng: np.random.Generator) -> tuple[dict, dict]:
    """Catalogue versions every four weeks, APIs added on an S-curve and a few removed; two providers renamed."""
    central = [i for i in range(reg.size) if SECTORS[reg.sector[i]] == "central"]
    n_api = max(20, spec.organisations // 8)
    owner = np.array(central)[rng.integers(0, len(central), n_api)]
    midpoint = rng.uniform(-0.2 * spec.weeks, 1.0 * spec.weeks, n_api)
    added = np.clip(np.round(midpoint + rng.normal(0, spec.weeks / 6, n_api)), 0, spec.weeks - 1).astype(int)
    removed = np.where(rng.random(n_api) < 0.05, rng.integers(0, spec.weeks, n_api), spec.weeks + 1)
    renamed = {int(p): int(rng.integers(1, spec.weeks)) for p in rng.choice(central, size=min(2, len(central)),
                                                                              replace=False)}
    aliases = {f"gen-former-{reg.slug(p)[4:]}": reg.slug(p) for p in renamed}
    folder = out / "data_sharing" / "catalogue_versions"
    versions = [["file", "commit", "committed_at", "main_commit", "published_at"]]
    files, size, rows_written = 0, 0, 0
    step = 4 if spec.weeks >= 8 else 1
    for w in range(step - 1, spec.weeks, step):
        listed = np.flatnonzero((added <= w) & (removed > w))
        day = _week_date(spec, w) + dt.timedelta(days=2)
        rows = [CATALOGUE_HEADER]
        for a in listed:
            o = int(owner[a])
            provider = reg.slug(o)
            if o in renamed and w < renamed[o]:
                provider = f"gen-former-{provider[4:]}"
            when = _week_date(spec, int(added[a])).isoformat()
            rows.append([when, when, f"https://api.{provider}.example.gov.uk/v1/{a}", f"Generated API {a} {MARKER}",
                         "GENERATED API for benchmarking: not a real API.\\n\\nIt lists nothing.",
                         f"https://{provider}.example.gov.uk/docs/{a}", "OGL-UK-3.0", "", "United Kingdom", "", "",
                         provider])
        commit = _hex(rng)
        name = f"{day.isoformat()}_{commit[:8]}.csv"
        size += _write(folder / name, _csv_text(rows))
        files += 1
        rows_written += len(rows) - 1
        at = dt.datetime.combine(day, dt.time(10, int(rng.integers(0, 60))), dt.UTC)
        published = at + dt.timedelta(hours=int(rng.integers(0, 30)))
        versions.append([name, commit, at.isoformat(), _hex(rng), published.isoformat()])
    size += _write(folder / "versions.csv", _csv_text(versions))
    providers = sorted({int(o) for o in owner})
    org_rows = [["id", "name", "alternateName", "url"]] + [
        [reg.slug(o), reg.title(o), reg.abbreviation[o] or "", ""] for o in providers]
    size += _write(out / "data_sharing" / f"api_catalogue_organisations_{spec.end:%Y-%m}.csv", _csv_text(org_rows))
    return {"catalogue_versions": files, "catalogue_rows": rows_written, "catalogue_bytes": size}, aliases


# --- GOV.UK One Login ------------------------------------------------------------------------------------------


def write_one_login(out: Path, reg: Register, spec: ScaleSpec, rng: np.random.Generator) -> tuple[dict, dict]:
    """The registry at the end and the events that lead to it (added, offboarded, removed, restored, renamed)."""
    n = max(8, spec.organisations // 25)
    owners = rng.integers(0, reg.size, n)
    start = dt.datetime.combine(_week_date(spec, 0), dt.time(9), dt.UTC)
    span = (dt.datetime.combine(spec.end, dt.time(17), dt.UTC) - start).total_seconds()
    clients, events, prefixes, entries = [], [], {}, {"generatedSmokeTests": "internal"}
    for k in range(n):
        o = int(owners[k])
        department = o if reg.parent[o] < 0 else int(reg.parent[o])
        while reg.parent[department] >= 0:
            department = int(reg.parent[department])
        prefix = (reg.abbreviation[department] or "gd").lower()
        prefixes[prefix] = reg.slug(department)
        key = f"{prefix}Service{k:05d}"
        if rng.random() < 0.2:
            key = f"service{k:05d}{PREFIXES[k % len(PREFIXES)]}"
            entries[key] = reg.slug(o)
        name = f"Generated service {k} of {reg.base[o]} {MARKER}"
        added = start + dt.timedelta(seconds=float(rng.uniform(0.3, 1.0)) * span)
        events.append([key, name, "added", added])
        state = {"key": key, "name": name, "added": added, "offboarded": False, "removed": False,
                 "host": f"{key.lower()}.{reg.slug(o)}.example.gov.uk"}
        later = added + dt.timedelta(days=int(rng.integers(1, 60)))
        roll = rng.random()
        if roll < 0.04 and later.date() < spec.end:
            events.append([key, name, "offboarded", later])
            state["offboarded"] = True
        elif roll < 0.06 and later.date() < spec.end:
            events.append([key, name, "removed", later])
            state["removed"] = True
            back = later + dt.timedelta(days=int(rng.integers(1, 30)))
            if rng.random() < 0.5 and back.date() < spec.end:
                events.append([key, name, "restored", back])
                state["removed"] = False
        elif roll < 0.09 and later.date() < spec.end:
            state["name"] = f"{name} (renamed)"
            events.append([key, state["name"], "renamed", later])
        clients.append(state)
    events.sort(key=lambda e: (e[3], e[0]))
    folder = out / "one_login"
    rows = [["client_key", "service_name", "event", "event_at", "commit"]] + [
        [k, name, kind, at.replace(microsecond=0).isoformat(), _hex(rng)] for k, name, kind, at in events]
    size = _write(folder / f"registry_events_to_{spec.end.isoformat()}.csv", _csv_text(rows, "\r\n"))
    registry = [["client_key", "service_name", "link_url", "is_offboarded", "show_in_services", "show_in_accounts",
                 "has_production_client_id", "first_added_to_registry"]]
    for c in sorted(clients, key=lambda c: c["key"]):
        if c["removed"]:
            continue
        first = (c["added"] - dt.timedelta(days=int(rng.integers(0, 12)))).replace(microsecond=0)
        registry.append([c["key"], c["name"], f"https://{c['host']}/", str(c["offboarded"]).lower(),
                         "true" if rng.random() < 0.6 else "false", "true", "True", first.isoformat()])
    size += _write(folder / f"relying_party_registry_{spec.end.isoformat()}.csv", _csv_text(registry, "\r\n"))
    return ({"one_login_clients": n, "one_login_events": len(events), "one_login_bytes": size},
            {"clients": entries, "key_prefixes": prefixes})


# --- the alias file and the schedule -----------------------------------------------------------------------------


def write_aliases(out: Path, reg: Register, pay: PayModel, rng: np.random.Generator, api_aliases: dict,
                  one_login: dict) -> dict:
    """organisation_aliases.yaml naming only generated bodies: a third of the typos and shortenings are known."""
    real = yaml.safe_load((REAL_DATA / "organisation_aliases.yaml").read_text(encoding="utf-8"))
    names = {}
    for i, (spellings, kinds) in enumerate(zip(pay.spellings, pay.drift_kinds, strict=True)):
        for name, kind in zip(spellings, kinds, strict=True):
            if kind in ("typo", "shortened") and rng.random() < 0.35:
                names[name.strip()] = reg.slug(i)
    doc = {
        "successors": {reg.slug(a): reg.slug(b) for a, b in list(reg.successor.items())[:3]},
        "api_catalogue_providers": api_aliases,
        "names": names,
        "name_patterns": {},
        "outside_govuk": real.get("outside_govuk") or {},
        "one_login": one_login | {"hosts": {}},
    }
    header = ("# GENERATED by bench/generate.py for benchmarking: names only generated bodies, none real.\n"
              "# The sections of the shipped data/organisation_aliases.yaml (read by tracker/organisation_names.py).\n")
    _write(out / "organisation_aliases.yaml", header + yaml.safe_dump(doc, sort_keys=True, allow_unicode=True))
    return {"alias_names": len(names)}


def write_schedule(out: Path, reg: Register, returners: list[int], spec: ScaleSpec) -> None:
    lines = [
        "# GENERATED by bench/generate.py for benchmarking: the expected submitters are generated bodies.",
        "# The format of data/returns/schedule.yaml (read by assets/returns.py and tracker/reminders.py).",
        f"deadline_days_after_quarter_end: {spec.deadline_days}",
        "reminder_days_before_deadline: 7",
    ]
    if spec.first_quarter < Quarter.parse(FIRST_QUARTER):
        lines.append(f'first_quarter: "{spec.first_quarter.label}"  # earlier than the contract\'s {FIRST_QUARTER}')
    lines += ["", "expected_submitters:"]
    lines += [f"  - {reg.code(i)}  # {reg.title(i)}" for i in returners]
    _write(out / "returns" / "schedule.yaml", "\n".join(lines) + "\n")


# --- department returns ------------------------------------------------------------------------------------------


def _return_row(rng: np.random.Generator, code: str, quarter: Quarter, pay_live: int, progress: float,
                version: int, warning: str | None) -> dict[str, str]:
    row: dict[str, str] = {"organisation_code": code, "reporting_quarter": quarter.label}

    def platform(key: str, scope: int, live: int, transactions_per_service: int) -> None:
        scope = max(scope, live)
        planned = int(rng.integers(0, scope - live + 1))
        row[f"{key}_services_in_scope"] = str(scope)
        row[f"{key}_services_live"] = str(live)
        row[f"{key}_services_planned"] = str(planned)
        row[f"{key}_transactions"] = str(live * transactions_per_service) if live else ""

    scope = int(rng.integers(2, 40))
    platform("one_login", scope, int(round(scope * progress)), 12_000)
    if quarter <= Quarter.parse(VERIFY_LAST_QUARTER) or warning == "verify_after_closure":
        v_scope = int(rng.integers(0, 5))
        platform("verify", v_scope, min(v_scope, int(rng.integers(0, 3))), 800)
    else:
        for suffix in ("services_in_scope", "services_live", "services_planned", "transactions"):
            row[f"verify_{suffix}"] = ""
    platform("pay", pay_live + int(rng.integers(0, 6)), pay_live, 3_000)
    n_scope = int(rng.integers(3, 60))
    platform("notify", n_scope, int(round(n_scope * min(1.0, progress + 0.2))), 40_000)
    f_scope = int(rng.integers(1, 30))
    platform("forms", f_scope, int(round(f_scope * progress)), 900)
    if warning == "transactions_missing":
        row["notify_transactions"] = ""
        row["notify_services_live"] = str(max(1, int(row["notify_services_live"])))
        row["notify_services_in_scope"] = str(max(int(row["notify_services_in_scope"]), 1))
        row["notify_services_planned"] = "0"
    total = int(rng.integers(20, 500))
    online = int(total * min(1.0, 0.3 + progress * 0.6))
    row |= {"forms_total": str(total), "forms_online": str(online),
            "forms_paper_only": str(int(rng.integers(0, total - online + 1))),
            "data_sharing_agreements": str(int(rng.integers(0, 60))), "apis_published": str(int(rng.integers(0, 12))),
            "blockers_note": NOTE}
    if version >= 2:
        scs = int(rng.integers(5, 200))
        barriers = list(rng.choice(len(BARRIERS), size=3, replace=False))
        picks = [BARRIERS[b] for b in barriers[:int(rng.integers(1, 4))]]
        if warning == "choice_other_unexplained":
            picks = ["other"]
            row["blockers_note"] = ""
        picks += [""] * (3 - len(picks))
        row |= {"ddat_staff_fte": f"{rng.uniform(5, 4000):.1f}", "ddat_vacancies": str(int(rng.integers(0, 200))),
                "senior_civil_servants": str(scs), "senior_civil_servants_trained": str(int(rng.integers(0, scs + 1))),
                "main_barrier_1": picks[0], "main_barrier_2": picks[1], "main_barrier_3": picks[2]}
    if warning == "windows_encoding":
        row["blockers_note"] = NOTE + " Budget £0."
    return row


def _return_bytes(row: dict[str, str], version: int, bad: str | None, warning: str | None,
                  other_code: str) -> bytes:
    columns = [c.name for c in columns_of(version)]
    if bad == "wrong_quarter":
        row = row | {"reporting_quarter": row["reporting_quarter"].replace(" Q", " Q5 Q")[:-3] + " Q5"}
    elif bad == "negative_number":
        row = row | {"pay_services_planned": "-2"}
    elif bad == "missing_column":
        columns = [c for c in columns if c != "forms_total"]
    elif bad == "text_in_number":
        row = row | {"notify_services_live": "about 12"}
    elif bad == "wrong_organisation":
        row = row | {"organisation_code": other_code}
    text = _csv_text([columns, [row.get(c, "") for c in columns]], "\r\n")
    if warning == "windows_encoding":
        return text.encode("cp1252")
    return b"\xef\xbb\xbf" + text.encode("utf-8")


class WorkbookReturns:
    """Returns sent as the Excel template (``checks/return_templates.xlsx_template``), filled in and saved with fixed
    times inside the file, so that the same seed still gives the same bytes."""

    def __init__(self, organisations: list[tuple[str, str]], today: dt.date, fixed: dt.datetime):
        from checks.return_templates import xlsx_template

        self.template = xlsx_template(organisations, today)
        self.fixed = fixed

    def content(self, row: dict[str, str]) -> bytes:
        import re
        import zipfile

        from openpyxl import load_workbook

        from checks.return_contract import COLUMN_NAMES, TEMPLATE_SHEET, column_letter

        book = load_workbook(io.BytesIO(self.template))
        sheet = book[TEMPLATE_SHEET]
        for name, value in row.items():
            if value != "":
                sheet[f"{column_letter(COLUMN_NAMES.index(name))}2"] = int(value) if value.isdigit() else value
        book.properties.created = book.properties.modified = self.fixed.replace(tzinfo=None)
        saved = io.BytesIO()
        book.save(saved)
        stamp = self.fixed.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        out = io.BytesIO()
        with zipfile.ZipFile(saved) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                data = source.read(info.filename)
                if info.filename == "docProps/core.xml":
                    data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
                fixed = zipfile.ZipInfo(info.filename, date_time=self.fixed.timetuple()[:6])
                fixed.compress_type = zipfile.ZIP_DEFLATED
                fixed.external_attr = info.external_attr
                target.writestr(fixed, data)
        return out.getvalue()


def deliver_exactly(inbox: Path, content: bytes, original_name: str, organisation_code: str, now: dt.datetime,
                    reporting_quarter: str) -> str:
    """What ``tracker.return_inbox.deliver`` writes (same names, same sidecar bytes), without its fsyncs.

    tests/test_scale_generator.py checks it byte for byte against ``deliver``; at 60,000 files the two fsyncs
    per file would cost more than the rest of the generation.
    """
    now = now.astimezone(dt.UTC).replace(tzinfo=None)
    folder = inbox / organisation_code
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{now:%Y%m%dT%H%M%S%fZ}__{safe_name(original_name)}"
    sha = content_hash(content)
    sidecar = {"organisation_code": organisation_code, "original_name": original_name, "channel": CHANNEL,
               "is_illustrative": True, "received_at": now.isoformat(),
               "reference": submission_reference(organisation_code, stored, sha), "sha256": sha, "sender": SENDER,
               "on_behalf_reason": None, "reporting_quarter": reporting_quarter}
    (folder / (stored + SIDECAR)).write_bytes(json.dumps(sidecar, indent=2).encode())
    (folder / stored).write_bytes(content)
    return stored


def write_returns(out: Path, reg: Register, pay: PayModel, spec: ScaleSpec, rng: np.random.Generator,
                  manifest: GeneratedManifest) -> list[int]:
    """Returns from ``spec.returners`` bodies for ``spec.quarters`` quarters, delivered to ``out/inbox``."""
    live_bodies = [i for i in range(reg.size) if i not in reg.closed_week]
    priority = sorted(live_bodies, key=lambda i: (reg.parent[i] >= 0, reg.format[i] != "Executive agency", i))
    returners = sorted(priority[:spec.returners])
    quarters = []
    quarter = spec.first_quarter
    while quarter <= spec.last_quarter:
        quarters.append(quarter)
        quarter = quarter.next()
    inbox = out / "inbox"
    counts = {"returns_xlsx": 0, "returns_files": 0, "returns_good": 0, "returns_bad": 0, "returns_duplicate": 0,
              "returns_with_warning": 0, "returns_missing": 0, "returns_bytes": 0}
    progress_start = rng.uniform(0.0, 0.6, reg.size)
    workbooks = WorkbookReturns([(reg.code(i), reg.title(i)) for i in returners], spec.as_of,
                                dt.datetime.combine(spec.end, dt.time(12)))
    for q_index, q in enumerate(quarters):
        deadline = q.end + dt.timedelta(days=spec.deadline_days)
        week = min(spec.weeks - 1, max(0, spec.weeks - 1 - (spec.end - q.end).days // 7))
        for position, i in enumerate(returners):
            if rng.random() < 0.03:
                counts["returns_missing"] += 1
                continue
            code = reg.code(i)
            progress = min(1.0, progress_start[i] + 0.6 * (q_index + 1) / len(quarters))
            version = 1 if (q < Quarter(2024, 1) and rng.random() < 0.7) or rng.random() < 0.05 else 2
            roll = rng.random()
            warning = WARNING_KINDS[int(rng.integers(len(WARNING_KINDS)))] if roll < 0.06 else None
            if warning == "choice_other_unexplained" and version < 2:
                warning = None
            bad = BAD_KINDS[int(rng.integers(len(BAD_KINDS)))] if 0.06 <= roll < 0.10 else None
            row = _return_row(rng, code, q, int(pay.services[week, i]), progress, version, warning)
            late = rng.random() < 0.08
            received = dt.datetime.combine(
                q.end + dt.timedelta(days=int(rng.integers(1, spec.deadline_days + 1))), dt.time(9), dt.UTC)
            if late:
                received = dt.datetime.combine(deadline + dt.timedelta(days=int(rng.integers(1, 15))), dt.time(9),
                                               dt.UTC)
            received += dt.timedelta(seconds=int(rng.integers(0, 8 * 3600)))
            other = reg.code(returners[(position + 1) % len(returners)])
            sends = []
            if bad:
                sends.append((bad, None))
                sends.append((None, warning))  # put right a few days later
            else:
                sends.append((None, warning))
                if rng.random() < 0.01:
                    sends.append(("duplicate", warning))
            content = b""
            as_workbook = version == 2 and not bad and not warning and rng.random() < 0.005
            for n_send, (kind, warn) in enumerate(sends):
                if kind != "duplicate":
                    content = (workbooks.content(row) if as_workbook else
                               _return_bytes(row, version, kind, warn, other))
                extension = ".xlsx" if as_workbook else ".csv"
                name = f"{code}_{q.label.replace(' ', '_')}{'_corrected' if n_send and kind is None else ''}{extension}"
                at = received + dt.timedelta(days=3 * n_send, minutes=7 * n_send)
                stored = deliver_exactly(inbox, content, name, code, at, q.label)
                expected = ("duplicate" if kind == "duplicate" else "rejected" if kind else "accepted")
                manifest.returns.append({"organisation": code, "quarter": q.label, "stored_name": stored,
                                         "bad": kind if kind in BAD_KINDS else None,
                                         "warning": warn if not kind else None,
                                         "expected": expected, "rule": BAD_RULES.get(kind or "")})
                counts["returns_files"] += 1
                counts["returns_xlsx"] += as_workbook
                counts["returns_bytes"] += len(content)
                counts[{"accepted": "returns_good", "rejected": "returns_bad",
                        "duplicate": "returns_duplicate"}[expected]] += 1
                counts["returns_with_warning"] += bool(warn and expected == "accepted")
    manifest.counts |= counts | {"returners": len(returners), "quarters": len(quarters),
                                 "first_quarter": quarters[0].label, "last_quarter": quarters[-1].label}
    return returners


# --- the whole folder --------------------------------------------------------------------------------------------


def copy_reference(out: Path) -> None:
    for name in COPIED:
        source, target = REAL_DATA / name, out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target)
    _write(out / "PROVENANCE.md", "# GENERATED data (bench/generate.py)\n\nEverything here except the folders "
           f"copied from the shipped data ({', '.join(COPIED)}) is GENERATED for benchmarking and is not real: "
           "see generated.json for the seed, the sizes and the counts.\n")


def generate(out: Path, size: str | ScaleSpec, seed: int) -> GeneratedManifest:
    """Write a GENERATED data folder at ``out`` (which must be empty or absent); deterministic in (size, seed)."""
    spec = spec_for(size)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: generate into a new folder.")
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    environment = {"TRACKER_DATA_DIR": "<this folder>", "TRACKER_AS_OF": spec.as_of.isoformat(),
                   "TRACKER_AS_OF_NOTE": AS_OF_NOTE}
    manifest = GeneratedManifest(seed=seed, size=asdict(spec) | {"end": spec.end.isoformat(),
                                                                 "as_of": spec.as_of.isoformat()},
                                 environment=environment)
    copy_reference(out)
    reg = build_register(streams[0], spec)
    manifest.counts |= write_register(out, reg, spec, streams[0])
    pay = build_pay(streams[1], reg, spec)
    manifest.counts |= write_pay(out, reg, pay, spec, streams[1])
    catalogue, api_aliases = write_catalogue(out, reg, spec, streams[2])
    manifest.counts |= catalogue
    one_login, one_login_aliases = write_one_login(out, reg, spec, streams[3])
    manifest.counts |= one_login
    manifest.counts |= write_aliases(out, reg, pay, streams[4], api_aliases, one_login_aliases)
    returners = write_returns(out, reg, pay, spec, streams[5], manifest)
    write_schedule(out, reg, returners, spec)
    manifest.counts |= {"organisations": reg.size, "pay_weeks": spec.weeks}
    _write(out / MANIFEST, manifest.to_json())
    manifest.counts["seconds"] = round(time.perf_counter() - started, 1)  # not written: the file stays deterministic
    return manifest


def checksum(folder: Path) -> str:
    """One sha256 over every file's path and bytes, in path order: equal folders, equal checksums."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--out", required=True, type=Path)
    for axis in ("organisations", "weeks", "returners", "quarters"):
        parser.add_argument(f"--{axis}", type=int, help=f"override the size's {axis}")
    args = parser.parse_args(argv)
    spec = spec_for(args.size, organisations=args.organisations, weeks=args.weeks, returners=args.returners,
                    quarters=args.quarters)
    manifest = generate(args.out, spec, args.seed)
    counts = manifest.counts
    print(f"GENERATED (not real) data in {args.out}: {counts['organisations']:,} organisations x "
          f"{counts['pay_weeks']} weeks ({counts['organisation_weeks']:,} organisation-weeks, "
          f"{counts['pay_snapshots']} Pay snapshots, {counts['pay_bytes'] / 1e6:,.1f} MB), "
          f"{counts['catalogue_versions']} catalogue versions, {counts['one_login_clients']} One Login clients, "
          f"{counts['returns_files']:,} return files ({counts['returns_good']:,} good, {counts['returns_bad']:,} bad, "
          f"{counts['returns_duplicate']:,} duplicates) from {counts['returners']} organisations for "
          f"{counts['quarters']} quarters ({counts['first_quarter']} to {counts['last_quarter']}); "
          f"{counts['seconds']} s. Run it as of {spec.as_of} or later.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
