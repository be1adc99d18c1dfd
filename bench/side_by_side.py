"""Three marts computed the simplest other ways, for ``tracker bench`` to set the tracker's build beside (issue 17).

(a) one hand-written DuckDB SQL script reading the raw files directly: the practical lower bound; (b) a
straightforward pandas implementation, the way a team without DuckDB would write it. Both compute the same
three tables from the same generated folder, and ``tracker bench`` checks they agree before it reports a time:

- ``pay_by_department_month``: for each calendar month, Pay's last snapshot in it (by ``dateUpdated``; of two
  files for one date, the last by name); each organisation name matched to a register body by a normalised
  name (case, '&'/'and', punctuation, a leading 'The') or the ``names`` section of
  ``organisation_aliases.yaml``; the body's department its own if it is one, else found through its parents
  (a department parent first); live services summed and organisations counted per department;
- ``returns_status_by_quarter``: every expected submitter (``returns/schedule.yaml``) in every quarter a
  return names, 'received' if its first file arrived by the deadline (the quarter's end plus the schedule's
  days), 'received late', else 'missing'; counted per quarter and status;
- ``department_league``: each department's Pay live services and organisations in the last month, and how
  many of its expected submitters sent a return for the last quarter, ordered by live services.

Simpler than the tracker's own marts, on purpose, so the comparison flatters the alternatives: no
contract rules on a return (the tracker checks each file against the contract; here a file counts by its
sidecar), no successors of closed bodies, no versions published twice or as of a reporting date, no
quarantine. The two YAML files are read by Python in both (DuckDB reads no YAML).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

DEPARTMENT_TYPES = ("Ministerial department", "Non-ministerial department", "Devolved government")
MARTS = ("pay_by_department_month", "returns_status_by_quarter", "department_league")


@dataclass(frozen=True)
class Inputs:
    data: Path  # a TRACKER_DATA_DIR
    inbox: Path  # TRACKER_HOME/returns/inbox as delivered: <organisation>/<file> and <file>.json sidecars

    def pay_files(self) -> list[Path]:
        return sorted((self.data / "pay" / "snapshots").glob("*.json"))

    def register_files(self) -> list[Path]:
        return sorted((self.data / "organisations").glob("govuk_api_organisations_*.json"))

    def aliases(self) -> dict[str, str]:
        loaded = yaml.safe_load((self.data / "organisation_aliases.yaml").read_text(encoding="utf-8")) or {}
        return {str(k): str(v) for k, v in (loaded.get("names") or {}).items()}

    def schedule(self) -> tuple[list[str], int]:
        loaded = yaml.safe_load((self.data / "returns" / "schedule.yaml").read_text(encoding="utf-8"))
        return [str(c) for c in loaded["expected_submitters"]], int(loaded["deadline_days_after_quarter_end"])


def _timed(function, inputs: Inputs) -> tuple[dict, float, float]:
    """The result, wall seconds, and the CPU seconds the process spent meanwhile (every thread's, DuckDB's too)."""
    cpu, started = _cpu_seconds(), time.perf_counter()
    result = function(inputs)
    return result, time.perf_counter() - started, _cpu_seconds() - cpu


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- (a) one DuckDB script ------------------------------------------------------------------------------------

SCRIPT = r"""
CREATE TEMP TABLE register AS
WITH bodies AS (
    SELECT unnest(results) AS r FROM read_json($register, maximum_object_size = 268435456)
)
SELECT r.details.slug AS slug, r.format AS format, r.title AS title, r.analytics_identifier AS code,
       list_transform(r.parent_organisations, lambda p: regexp_extract(p.id, '[^/]+$')) AS parents
FROM bodies;

CREATE TEMP TABLE parent AS
SELECT b.slug, coalesce(
    (SELECT p FROM unnest(b.parents) AS t(p) JOIN register d ON d.slug = p AND d.format IN $department_types LIMIT 1),
    (SELECT p FROM unnest(b.parents) AS t(p) JOIN register d ON d.slug = p LIMIT 1)) AS parent
FROM register b;

CREATE TEMP TABLE department AS
WITH RECURSIVE walk(slug, node, hops) AS (
    SELECT slug, slug, 0 FROM register
    UNION ALL
    SELECT w.slug, p.parent, w.hops + 1 FROM walk w JOIN parent p ON p.slug = w.node
    JOIN register r ON r.slug = w.node
    WHERE r.format NOT IN $department_types AND p.parent IS NOT NULL AND w.hops < 20
)
SELECT w.slug, w.node AS department_slug FROM walk w JOIN register r ON r.slug = w.node
WHERE r.format IN $department_types;

-- the comparison key of a name: case, '&'/'and', punctuation and a leading 'The' folded (as ``normalised``)
CREATE TEMP MACRO name_key(name) AS
    trim(regexp_replace(regexp_replace(trim(regexp_replace(replace(lower(name), '&', ' and '), '[^a-z0-9]+', ' ',
         'g')), '^the ', ''), '\s+', ' ', 'g'));

CREATE TEMP TABLE names AS SELECT name_key(title) AS key, slug FROM register;

CREATE TEMP TABLE monthly AS
WITH versions AS (  -- the counts kept as JSON text: only the month's chosen version is turned into a map
    SELECT filename, strptime(dateUpdated, '%d %B %Y')::DATE AS day, serviceCountByOrganisation AS counts
    FROM read_json($pay, columns = {dateUpdated: 'VARCHAR', serviceCountByOrganisation: 'JSON'},
                   filename = true, maximum_object_size = 268435456)
)
SELECT date_trunc('month', day)::DATE AS month, json_transform(counts, '"MAP(VARCHAR, BIGINT)"') AS counts
FROM versions
QUALIFY row_number() OVER (PARTITION BY date_trunc('month', day) ORDER BY day DESC, filename DESC) = 1;

CREATE TEMP TABLE pay_rows AS
SELECT m.month, e.key AS name, e.value AS live_services FROM monthly m, unnest(map_entries(m.counts)) AS t(e);

CREATE TEMP TABLE published_names AS  -- each distinct name normalised once, not once a month
SELECT name, name_key(name) AS key FROM (SELECT DISTINCT name FROM pay_rows);

CREATE TEMP TABLE pay_by_department_month AS
SELECT p.month, d.department_slug, sum(p.live_services)::BIGINT AS live_services,
       count(DISTINCT coalesce(a.slug, n.slug, p.name)) AS organisations
FROM pay_rows p JOIN published_names k USING (name)
LEFT JOIN aliases a ON a.name = p.name
LEFT JOIN names n ON n.key = k.key AND a.slug IS NULL
LEFT JOIN department d ON d.slug = coalesce(a.slug, n.slug)
GROUP BY ALL;

CREATE TEMP TABLE arrivals AS
SELECT organisation_code, reporting_quarter, min(received_at::TIMESTAMP) AS first_received
FROM read_json($sidecars, columns = {organisation_code: 'VARCHAR', reporting_quarter: 'VARCHAR',
                                     received_at: 'VARCHAR'})
WHERE reporting_quarter IS NOT NULL GROUP BY ALL;

CREATE TEMP TABLE quarters AS
WITH named AS (
    SELECT DISTINCT reporting_quarter, left(reporting_quarter, 4)::INTEGER AS year,
           right(reporting_quarter, 1)::INTEGER AS n FROM arrivals
)
SELECT reporting_quarter,
       last_day(make_date(year + (3 * n + 3 > 12)::INTEGER, (3 * n + 2) % 12 + 1, 1)) AS quarter_end
FROM named;

CREATE TEMP TABLE returns_status_by_quarter AS
WITH status AS (
    SELECT q.reporting_quarter,
           CASE WHEN a.first_received IS NULL THEN 'missing'
                WHEN a.first_received::DATE <= q.quarter_end + $deadline_days THEN 'received'
                ELSE 'received late' END AS status
    FROM expected e CROSS JOIN quarters q
    LEFT JOIN arrivals a ON a.organisation_code = e.organisation_code AND a.reporting_quarter = q.reporting_quarter
)
SELECT reporting_quarter, status, count(*) AS organisations FROM status GROUP BY ALL;

CREATE TEMP TABLE department_league AS
WITH last_month AS (
    SELECT department_slug, live_services, organisations FROM pay_by_department_month
    WHERE month = (SELECT max(month) FROM pay_by_department_month) AND department_slug IS NOT NULL
),
last_quarter AS (SELECT reporting_quarter FROM quarters ORDER BY quarter_end DESC LIMIT 1),
submitters AS (
    SELECT d.department_slug, count(*) AS expected_submitters,
           count(a.organisation_code) AS returned_last_quarter
    FROM expected e JOIN register r ON r.code = e.organisation_code JOIN department d ON d.slug = r.slug
    LEFT JOIN arrivals a ON a.organisation_code = e.organisation_code
         AND a.reporting_quarter = (SELECT reporting_quarter FROM last_quarter)
    GROUP BY ALL
)
SELECT d.department_slug, coalesce(l.live_services, 0)::BIGINT AS live_services,
       coalesce(l.organisations, 0)::BIGINT AS organisations,
       coalesce(s.expected_submitters, 0)::BIGINT AS expected_submitters,
       coalesce(s.returned_last_quarter, 0)::BIGINT AS returned_last_quarter
FROM (SELECT DISTINCT department_slug FROM department) d
LEFT JOIN last_month l USING (department_slug) LEFT JOIN submitters s USING (department_slug)
ORDER BY live_services DESC, department_slug;
"""


def duckdb_script(inputs: Inputs) -> dict:
    """The script above, run once; Python only hands it the file lists and the two YAML files' contents."""
    import duckdb
    import pandas as pd

    expected, deadline_days = inputs.schedule()
    con = duckdb.connect()
    con.register("aliases", pd.DataFrame(list(inputs.aliases().items()), columns=["name", "slug"]))
    con.register("expected", pd.DataFrame({"organisation_code": expected}))
    params = {"register": [str(p) for p in inputs.register_files()], "pay": [str(p) for p in inputs.pay_files()],
              "sidecars": str(inputs.inbox / "*" / "*.json"), "department_types": list(DEPARTMENT_TYPES),
              "deadline_days": deadline_days}
    for statement in (s for s in SCRIPT.split(";\n") if s.strip()):
        used = {k: v for k, v in params.items() if f"${k}" in statement}
        con.execute(statement.replace("IN $department_types", "IN (SELECT unnest($department_types))"), used)
    return {mart: con.execute(f"SELECT * FROM {mart}").df() for mart in MARTS}


# --- (b) pandas ------------------------------------------------------------------------------------------------


def normalised(names):
    """The same comparison key as the script's, on a pandas Series."""
    key = names.str.lower().str.replace("&", " and ", regex=False).str.replace(r"[^a-z0-9]+", " ", regex=True)
    return key.str.strip().str.replace(r"^the ", "", regex=True).str.replace(r"\s+", " ", regex=True).str.strip()


def _quarter_end(quarter: str) -> dt.date:
    year, n = int(quarter[:4]), int(quarter[-1])
    month, year = (3 * n + 3, year) if n < 4 else (3, year + 1)
    first_of_next = dt.date(year + (month == 12), month % 12 + 1, 1)
    return first_of_next - dt.timedelta(days=1)


def pandas_way(inputs: Inputs) -> dict:
    """As a team without DuckDB would write it: json.load each file, frames, merges and group-bys."""
    import pandas as pd

    bodies = [b for path in inputs.register_files() for b in json.loads(path.read_text(encoding="utf-8"))["results"]]
    register = pd.DataFrame({
        "slug": [b["details"]["slug"] for b in bodies], "format": [b["format"] for b in bodies],
        "title": [b["title"] for b in bodies], "code": [b.get("analytics_identifier") for b in bodies],
        "parents": [[re.search(r"[^/]+$", p["id"]).group(0) for p in b["parent_organisations"]] for b in bodies],
    })
    formats = dict(zip(register["slug"], register["format"], strict=True))

    def first_parent(parents: list[str]) -> str | None:
        known = [p for p in parents if p in formats]
        departments = [p for p in known if formats[p] in DEPARTMENT_TYPES]
        return (departments or known or [None])[0]

    parent = dict(zip(register["slug"], register["parents"].map(first_parent), strict=True))

    def department_of(slug: str) -> str | None:
        node, hops = slug, 0
        while node is not None and hops <= 20:
            if formats[node] in DEPARTMENT_TYPES:
                return node
            node, hops = parent[node], hops + 1
        return None

    register["department_slug"] = register["slug"].map(department_of)
    names = pd.DataFrame({"key": normalised(register["title"]), "slug": register["slug"]}).drop_duplicates("key")

    versions = []
    for path in inputs.pay_files():
        document = json.loads(path.read_text(encoding="utf-8"))
        day = dt.datetime.strptime(document["dateUpdated"], "%d %B %Y").date()
        versions.append((day.replace(day=1), day, path.name, document.get("serviceCountByOrganisation") or {}))
    versions.sort(key=lambda v: (v[0], v[1], v[2]))
    last_of_month = {month: counts for month, _day, _name, counts in versions}  # the last one wins
    pay = pd.concat([pd.DataFrame({"month": month, "name": list(counts), "live_services": list(counts.values())})
                     for month, counts in last_of_month.items()], ignore_index=True)
    pay["key"] = normalised(pay["name"])
    aliases = pd.DataFrame(list(inputs.aliases().items()), columns=["name", "alias_slug"])
    pay = pay.merge(aliases, on="name", how="left").merge(names, on="key", how="left")
    pay["slug"] = pay["alias_slug"].fillna(pay["slug"])
    pay = pay.merge(register[["slug", "department_slug"]], on="slug", how="left")
    pay["organisation"] = pay["slug"].fillna(pay["name"])
    by_month = pay.groupby(["month", "department_slug"], dropna=False).agg(
        live_services=("live_services", "sum"), organisations=("organisation", "nunique")).reset_index()
    by_month["month"] = pd.to_datetime(by_month["month"])

    expected, deadline_days = inputs.schedule()
    sidecars = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(inputs.inbox.glob("*/*.json"))]
    arrivals = pd.DataFrame([(s["organisation_code"], s.get("reporting_quarter"), s["received_at"])
                             for s in sidecars], columns=["organisation_code", "reporting_quarter", "received_at"])
    arrivals = arrivals.dropna(subset=["reporting_quarter"])
    arrivals["received_at"] = pd.to_datetime(arrivals["received_at"])
    arrivals = arrivals.groupby(["organisation_code", "reporting_quarter"]).agg(
        first_received=("received_at", "min")).reset_index()
    quarters = pd.DataFrame({"reporting_quarter": sorted(arrivals["reporting_quarter"].unique())})
    quarters["quarter_end"] = quarters["reporting_quarter"].map(_quarter_end)
    grid = pd.DataFrame({"organisation_code": expected}).merge(quarters, how="cross").merge(
        arrivals, on=["organisation_code", "reporting_quarter"], how="left")
    deadline = pd.to_datetime(grid["quarter_end"]) + pd.Timedelta(days=deadline_days)
    grid["status"] = "missing"
    grid.loc[grid["first_received"].notna(), "status"] = "received late"
    on_time = grid["first_received"].notna() & (grid["first_received"].dt.normalize() <= deadline)
    grid.loc[on_time, "status"] = "received"
    status = grid.groupby(["reporting_quarter", "status"]).size().reset_index(name="organisations")

    last_month = by_month[(by_month["month"] == by_month["month"].max()) & by_month["department_slug"].notna()]
    last_quarter = quarters.sort_values("quarter_end")["reporting_quarter"].iloc[-1]
    submitters = pd.DataFrame({"organisation_code": expected}).merge(
        register[["code", "department_slug"]], left_on="organisation_code", right_on="code").dropna(
        subset=["department_slug"])
    returned = set(arrivals.loc[arrivals["reporting_quarter"] == last_quarter, "organisation_code"])
    submitters["returned"] = submitters["organisation_code"].isin(returned)
    per_department = submitters.groupby("department_slug").agg(
        expected_submitters=("organisation_code", "size"), returned_last_quarter=("returned", "sum")).reset_index()
    league = pd.DataFrame({"department_slug": register["department_slug"].dropna().unique()})
    league = league.merge(last_month[["department_slug", "live_services", "organisations"]], how="left").merge(
        per_department, how="left").fillna(0)
    for column in ("live_services", "organisations", "expected_submitters", "returned_last_quarter"):
        league[column] = league[column].astype("int64")
    league = league.sort_values(["live_services", "department_slug"], ascending=[False, True])
    return {"pay_by_department_month": by_month, "returns_status_by_quarter": status, "department_league": league}


# --- the comparison ----------------------------------------------------------------------------------------------


def differences(left: dict, right: dict) -> list[str]:
    """Where two computations of the marts disagree (rows compared as sorted sets of values)."""
    import pandas as pd

    found = []
    for mart in MARTS:
        a, b = left[mart], right[mart]
        if list(a.columns) != list(b.columns):
            found.append(f"{mart}: columns {list(a.columns)} v {list(b.columns)}")
            continue

        def rows(frame: pd.DataFrame) -> list[tuple]:
            cleaned = frame.astype(object).where(frame.notna(), None)
            return sorted((tuple(str(v) if isinstance(v, pd.Timestamp | dt.date) else v for v in row)
                           for row in cleaned.itertuples(index=False)), key=repr)

        ra, rb = rows(a), rows(b)
        if ra != rb:
            only = set(ra) ^ set(rb)
            found.append(f"{mart}: {len(ra)} v {len(rb)} rows, {len(only)} differ, e.g. {sorted(only, key=repr)[:3]}")
    return found


def side_by_side(data: Path, inbox: Path) -> dict:
    """Both ways, timed (their libraries already imported), checked to agree: seconds and row counts."""
    import duckdb  # noqa: F401 - imported before the clock starts, as in a process that has run before
    import pandas  # noqa: F401

    inputs = Inputs(data, inbox)
    script, script_s, script_cpu = _timed(duckdb_script, inputs)
    frames, pandas_s, pandas_cpu = _timed(pandas_way, inputs)
    disagree = differences(script, frames)
    return {"duckdb_script_s": round(script_s, 3), "pandas_s": round(pandas_s, 3),
            "duckdb_script_cpu_s": round(script_cpu, 2), "pandas_cpu_s": round(pandas_cpu, 2),
            "rows": {mart: len(script[mart]) for mart in MARTS}, "disagreements": disagree,
            "pay_live_services_last_month": int(script["department_league"]["live_services"].sum())}


if __name__ == "__main__":
    import sys

    print(json.dumps(side_by_side(Path(sys.argv[1]), Path(sys.argv[2])), indent=2))
