"""The shape every staging asset fed by raw files shares: each source stands alone.

Each file is parsed on its own: a file that cannot be read is quarantined with
its name and the problem in plain words, and the source's other files, newer
ones included, still count. The new tables are written and the source's blocking
rules (checks/platform_checks.py) are run on them in one transaction: a version
that breaks a rule is quarantined and the tables are rebuilt without it; a
problem that no single file explains rolls the transaction back, so the source
keeps its last good tables. Either way the asset succeeds, so every other source
and the publication go on; ``quarantine.<source>_feed_problems`` says what is
wrong, and the ``<source>_feed_readable`` check (checks/platform_checks.py)
reports it in Dagster, the published snapshot and ``tracker run``'s exit code.

What counts as unreadable (the file is left out): not the format the source
publishes (JSON, YAML, CSV), no date, or without the figures the source exists
to give (for Pay the live-services count, for Forms the three counts). A missing
optional figure is left blank instead, and a form the platforms already use
(thousands separators, '142.9 million', a trailing space) is read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.raw import OWNERS
from assets.staging_shapes import as_declared
from assets.staging_shapes import empty as empty_table
from checks.platform_checks import ERROR, RULES, feed_problems_table
from tracker.code_version import code_sha256
from tracker.declaration_files import DeclarationError
from tracker.parse_processes import Lost, Unexpected, parsed_in_batches, processes_worth_starting
from tracker.parsing import FeedError
from tracker.raw_store import opened_store
from tracker.resources import TrackerConfig
from tracker.sources import SOURCES
from tracker.versions import VERSIONS_FILE, publications, visible
from tracker.warehouse import (
    ListedFile,
    SourceFile,
    connect,
    insert_values,
    listed_files,
    table_columns,
    table_exists,
    tables_metadata,
)


@dataclass(frozen=True)
class VersionsView:
    """A table made of the rows of many versions (weekly snapshots) that the source's parse cache already holds: a
    view over the cache and the list of the versions kept (``versions_table(name)``: sha256, version_value, code),
    not a copy of their rows. A new snapshot then costs its own parse and nothing here, and a full build does not
    write the history twice (15.8 million rows at national size, 3 s)."""

    kept: dict[str, dt.date]  # sha256 of each version -> the value its rows carry (its date)
    select: str  # SQL selecting those versions' rows, from the list in the table named ``{kept}``


Frames = dict[str, "pd.DataFrame | str | VersionsView"]  # a table's rows, the SQL selecting them, or its versions'
# file name -> (file, what parse returned), readable files only; a file whose parse was kept (ParseCache) comes
# without its bytes
Parsed = dict[str, tuple[SourceFile | ListedFile, Any]]
ExtraMetadata = Callable[[Frames], Mapping[str, dict]]
LEFT_OUT = "file left out; the source's other files still count"
KEPT = "the source keeps its last good figures"
NEVER_READ = "never read: empty until its files can be read"
MAX_REBUILDS = 5
NOTHING_TO_READ = ("no file to read: the folder is empty or none of its files could be read, so the source keeps its "
                   "last good figures.")


class ParseCache(Protocol):
    """Keeps each file's parse in the warehouse by its sha256, so a run parses only the files that are new.

    A parse is kept with the fingerprint of the code that made it: changed parsing code parses every file again.
    """

    def keeps(self, name: str) -> bool:
        """Whether the cache keeps this file's parse (a list of versions, read whole each time, is not kept)."""

    def stored(self, con, files: list[ListedFile]) -> dict[str, Any]:
        """sha256 -> the kept parse (or the FeedError it raised) of those of ``files`` it has."""

    def store(self, con, results: list[tuple[SourceFile, Any]]) -> None:
        """Keep each file's parse (or its FeedError), each file whole or not at all."""

    def as_stored(self, result: Any) -> Any:
        """A parse as ``stored`` gives it back (the part the tables are assembled from): what the run keeps of a
        file it has just parsed and stored, so a full build holds no more of each file than a warm run does."""


@dataclass(frozen=True)
class FeedReader:
    """How one source's files become tables: ``parse`` one file (FeedError if unreadable), then ``assemble``."""

    parse: Callable[[SourceFile], Any]  # a function of the file alone (its bytes and name)
    assemble: Callable[[Parsed, TrackerConfig], Frames]
    cache: ParseCache | None = None


def code_fingerprint(*modules) -> str:
    """The sha256 of the modules' source: a kept parse is used only while the code that made it is unchanged."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


CACHE_BATCH = 50  # files parsed and kept together: bounds the memory a full build of a long history takes


def _parse_listed(con, source: str, reader: FeedReader, log, listed: list[ListedFile]) -> tuple[Parsed, list, bool]:
    """Every listed file's parse, from the cache where it has one; the problems of the files that cannot be read;
    whether any file raised what the parser did not foresee or had its bytes lost from the raw store (perhaps
    passing: the next run tries it again). The files not in the cache are parsed in processes of their own when
    there are enough of them (tracker/parse_processes.py)."""
    cache = reader.cache
    kept = cache.stored(con, [f for f in listed if cache.keeps(f.name)]) if cache else {}
    parsed: Parsed = {}
    problems: list[Problem] = []
    lost: list[Problem] = []
    surprises = []

    def take(file: SourceFile | ListedFile, result: Any) -> None:
        if isinstance(result, FeedError):
            problems.append(Problem(file.name, file.sha256, result.problem, LEFT_OUT))
        elif isinstance(result, Lost):
            lost.append(Problem(file.name, file.sha256, result.problem, LEFT_OUT))
        elif isinstance(result, Unexpected):
            log.error(f"{source}: {file.name} could not be parsed\n{result.details}")
            surprises.append(file.name)
            problems.append(Problem(file.name, file.sha256, unexpected(result.kind), LEFT_OUT))
        else:
            parsed[file.name] = (file, result)

    def keep(results: list[tuple[Any, Any]]) -> None:
        if cache:
            # a parse, or the FeedError saying why the file cannot be read, is kept; a surprise or a loss is not
            kept_now = [not isinstance(r, Lost | Unexpected) and cache.keeps(file.name) for file, r in results]
            cache.store(con, [pair for pair, keeps in zip(results, kept_now, strict=True) if keeps])
            results = [(file, cache.as_stored(r) if keeps else r)
                       for (file, r), keeps in zip(results, kept_now, strict=True)]
        for file, result in results:
            take(file, result)

    for f in listed:
        if f.sha256 in kept:  # the bytes are not read again: the parse stands for them
            take(f, kept[f.sha256])
    todo = sorted((f for f in listed if f.sha256 not in kept), key=lambda f: f.name)
    store = opened_store(con)
    processes = processes_worth_starting(reader.parse, store, source, todo)
    if processes:
        log.info(f"{source}: parsing {len(todo)} files in {processes} processes of their own")
    waiting: list[tuple[Any, Any]] = []
    for results in parsed_in_batches(reader.parse, store, source, todo, processes):
        waiting.extend(results)
        if len(waiting) >= CACHE_BATCH:
            keep(waiting)
            waiting = []
    keep(waiting)
    return dict(sorted(parsed.items())), problems + lost, bool(surprises or lost)


def versioned(parsed: Parsed, folder: str, as_of: dt.date, is_version=lambda name: True):
    """A versioned source's parsed files -> (each version's parse, when each was published, the public ones).

    Raises FeedError when no version could be read, so the source keeps its last good figures.
    """
    listed = parsed.get(VERSIONS_FILE, (None, {}))[1]
    versions = {name: p for name, (_f, p) in parsed.items() if name != VERSIONS_FILE and is_version(name)}
    if not versions:
        raise FeedError(folder, NOTHING_TO_READ)
    undated = [Problem(name, parsed[name][0].sha256, listed[name]["problem"], LEFT_OUT)
               for name in versions if "problem" in listed.get(name, {})]
    if undated:  # listed with a time that cannot be read: left out by name, the source put together without them
        raise Quarantine(undated)
    pubs = publications([parsed[name][0] for name in versions], listed)
    return versions, pubs, visible(pubs, as_of)


def whole_source(build: Callable[[list[SourceFile], TrackerConfig], Frames]) -> FeedReader:
    """For reference sources read as one set of files: a file the build cannot read is left out and the set built
    again without it (a newer register file that is broken leaves the older one in use); any other problem, or
    a set too short without it, keeps the last good tables."""

    def assemble(parsed: Parsed, settings: TrackerConfig) -> Frames:
        if not parsed:
            raise FeedError("the source's folder", NOTHING_TO_READ)
        try:
            return build([f for f, _ in parsed.values()], settings)
        except FeedError as err:
            if err.file_name not in parsed:
                raise
            raise Quarantine([Problem(err.file_name, parsed[err.file_name][0].sha256, err.problem, LEFT_OUT)]) \
                from None

    return FeedReader(parse=lambda f: f, assemble=assemble)


def unexpected(kind: str) -> str:
    """A problem the parser did not foresee (the exception's type), in words; the details go to the run's log for a
    developer."""
    return (f"the tracker could not read it ({kind}); a developer can find the details in the run's "
            "log in Dagster. Check the file is the format this source publishes.")


@dataclass
class Problem:
    file_name: str | None
    sha256: str | None
    problem: str
    consequence: str


class Quarantine(Exception):
    """Raised while a source is put together: the files named are left out and it is put together again without
    them (a problem naming no file keeps the last good figures)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems


def freshness_policy(source: str) -> dg.FreshnessPolicy | None:
    """Dagster's freshness policy for a source's staging tables: the source's own window (tracker/sources.py).

    Failing means the tracker has not rebuilt the source within the days its data may be old before it is
    stale; a closed source (no window) has none.
    """
    declared = SOURCES.get(source)
    if declared is None or declared.fresh_within_days is None:
        return None
    return dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(days=declared.fresh_within_days))


def build_table(source: str) -> str:
    """When the tracker last wrote a source's tables (one row; one writer per source, like its problems table)."""
    return f"meta.{source}_build"


def inputs_sha256(source: str, listed: list[ListedFile], settings: TrackerConfig) -> str:
    """Everything a source's tables are made from: its listed files, the reporting date, the settings files in the
    data folder (aliases, targets) and the code. The same inputs build the same tables."""
    digest = hashlib.sha256(f"{source}\0{settings.as_of_date().isoformat()}".encode())
    for f in listed:
        digest.update(f"\0{f.name}\0{f.sha256}\0{f.received_at.isoformat()}".encode())
    return _settled(digest, settings)


def _settled(digest, settings: TrackerConfig) -> str:
    """The digest, finished with the settings files of the data folder (aliases, targets, department names: YAML at
    its top and one folder down) and the code."""
    digest.update(code_sha256().encode())
    for path in sorted([*settings.data.glob("*.y*ml"), *settings.data.glob("*/*.y*ml")]):
        digest.update(path.relative_to(settings.data).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def derived_inputs_sha256(con, name: str, sources: list[str], settings: TrackerConfig) -> str | None:
    """What a table built from other sources' staging tables is made from: those sources' recorded inputs (None if
    any is unrecorded, so it is built), the reporting date, the settings files and the code."""
    recorded = [_built_from(con, source) for source in sources]
    if None in recorded:
        return None
    return _settled(hashlib.sha256("\0".join([name, settings.as_of_date().isoformat(), *recorded]).encode()),
                    settings)


def _records_inputs(con, source: str) -> bool:
    """Whether the source's build table has a column for its inputs (it has since builds recorded them)."""
    return "inputs_sha256" in table_columns(con, build_table(source))


def _built_from(con, source: str) -> str | None:
    """The inputs the source's tables were last built from, if the build recorded them (see ``record_build``)."""
    row = con.execute(f"SELECT inputs_sha256 FROM {build_table(source)}").fetchall() if _records_inputs(
        con, source) else None
    return row[0][0] if row else None


def forget_inputs(con, source: str) -> None:
    """Before the tables are written: a run killed while writing leaves them recorded as built from no known inputs
    (so the next run builds them), never as built from the inputs of the tables they replace."""
    if _records_inputs(con, source):
        con.execute(f"UPDATE {build_table(source)} SET inputs_sha256 = NULL")


def _tables(con) -> set[str]:
    """Every table and view in the warehouse, as schema.table."""
    return {t for (t,) in con.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables")
            .fetchall()}


def record_build(con, source: str, written: bool, run_id: str, inputs: str | None = None) -> dict:
    """Keep when the source's tables were last written (kept as it was when they were not), when last tried, and
    the inputs the run read (None when something unforeseen happened: the next run tries again whatever)."""
    table = build_table(source)
    schema = table.split(".")[0]
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    previous = con.execute(f"SELECT built_at, built_by_run FROM {table}").fetchone() \
        if table_exists(con, table) else None
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    built_at, built_by = (now, run_id) if written else (previous or (None, None))
    con.execute(f"CREATE OR REPLACE TABLE {table} (source VARCHAR, built_at TIMESTAMP, built_by_run VARCHAR, "
                "tried_at TIMESTAMP, inputs_sha256 VARCHAR)")
    con.execute(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)", [source, built_at, built_by, now, inputs])
    return {"built at (UTC)": built_at.isoformat(timespec="seconds") if built_at else "never",
            "tried at (UTC)": now.isoformat(timespec="seconds")}


def kept_if_unchanged(context, con, source: str, inputs: str | None, keys: list[list[str]],
                      build_asset: bool = True) -> list | None:
    """The source's materialisations when its tables were last built from exactly these inputs: they are what a
    rebuild would write, so they are kept and confirmed instead of parsed and written again (a run then costs in
    proportion to what is new). None when anything differs or is missing: the source is built."""
    if inputs is None or _built_from(con, source) != inputs:
        return None
    built_at, tried_at, built_by = con.execute(
        f"SELECT built_at, tried_at, built_by_run FROM {build_table(source)}").fetchall()[0]
    present = _tables(con)
    previous = {}
    for key in keys:
        event = context.instance.get_latest_materialization_event(dg.AssetKey(key))
        # the run that recorded these inputs also recorded the tables in Dagster (not killed in between)
        if ".".join(key) not in present or event is None or event.asset_materialization is None or (
                built_at == tried_at and event.run_id != built_by):
            return None
        previous[tuple(key)] = event.asset_materialization.metadata
    build = record_build(con, source, built_at == tried_at, context.run_id, inputs)
    note = (f"unchanged: the same files, reporting date and code as the build by run {(built_by or '?')[:8]}, so its "
            "tables are kept (a rebuild would write the same)")
    kept = [dg.MaterializeResult(asset_key=key, metadata={**previous[tuple(key)], "inputs": note}) for key in keys]
    if build_asset:  # a source's build table is an asset of its own; a derived table's is bookkeeping
        kept.append(dg.MaterializeResult(asset_key=build_table(source).split("."), metadata={**build, "inputs": note}))
    return kept


def _gate_rules(tables: Mapping[str, str]):
    return [r for r in RULES if r.severity == ERROR and ".".join(r.asset) in tables]


def _write_and_gate(con, frames: Frames, rules, as_of: dt.date, files: Parsed) -> None:
    """Replace the tables and run the blocking rules on them; commit only if every rule passes."""
    con.execute("BEGIN TRANSACTION")
    try:
        for name, frame in frames.items():
            if isinstance(frame, str):
                con.execute(f"CREATE OR REPLACE TABLE {name} AS {frame}")
                continue
            if isinstance(frame, VersionsView):
                _write_versions_view(con, name, frame)
                continue
            view = "_frame_" + name.replace(".", "_")
            con.register(view, frame)
            con.execute(f"CREATE OR REPLACE TABLE {name} AS {as_declared(con, view, name)}")
            con.unregister(view)
        for rule in rules:
            params = {"as_of": as_of} if "$as_of" in rule.sql else None
            rows = con.execute(rule.sql, params).df()
            if rows.empty:
                continue
            named = rows["file_name"].dropna().unique().tolist() if "file_name" in rows.columns else []
            if named:
                raise Quarantine([Problem(n, files[n][0].sha256 if n in files else None,
                                          f"breaks the rule '{rule.description}'", LEFT_OUT) for n in named])
            raise Quarantine([Problem(None, None, f"the new figures break the rule '{rule.description}' "
                                      f"({len(rows)} rows)", KEPT)])
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def versions_table(name: str) -> str:
    """Where the versions a ``VersionsView`` holds are listed (sha256, version_value, code)."""
    return f"meta.{name.replace('.', '__')}_versions"


def held_versions(con, name: str, listed: str | None = None) -> dict[str, dt.date] | None:
    """sha256 -> value of the versions the table ``name`` holds, as this code wrote it, from the list ``listed``
    (``versions_table(name)`` for a ``VersionsView``; ``list_versions`` writes one); None when that is not
    known (no such table or list, a list of another shape, or written by other code)."""
    listed = listed or versions_table(name)
    if not table_columns(con, name) or not {"sha256", "version_value", "code"} <= table_columns(con, listed):
        return None
    versions = dict(con.execute(f"SELECT sha256, version_value FROM {listed} WHERE code = ?", [code_sha256()])
                    .fetchall())
    if not versions and con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]:
        return None  # rows, but no versions listed under this code
    return versions


def list_versions(con, listed: str, versions: dict[str, dt.date]) -> None:
    """The list ``listed`` made to name ``versions`` (sha256 -> value) under this code: ``held_versions`` reads it."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {listed.split('.')[0]}")
    con.execute(f"CREATE OR REPLACE TABLE {listed} (sha256 VARCHAR, version_value DATE, code VARCHAR)")
    insert_values(con, listed, [(sha, value, code_sha256()) for sha, value in versions.items()])


def _write_versions_view(con, name: str, frame: VersionsView) -> None:
    """Inside ``_write_and_gate``'s transaction: the versions listed, and the view over them made (in place of the
    table an earlier layout wrote)."""
    listed = versions_table(name)
    list_versions(con, listed, frame.kept)
    if table_exists(con, name, views=False):
        con.execute(f"DROP TABLE {name}")
    con.execute(f"CREATE OR REPLACE VIEW {name} AS {frame.select.format(kept=listed)}")


def _record_problems(con, source: str, problems: list[Problem], shown_as: str | None = None) -> None:
    """Replace the source's quarantine table; ``shown_as``: the source key its rows carry, when another source's
    (Notify's live documents are named under Notify)."""
    table = feed_problems_table(source)
    frame = pd.DataFrame(
        [{"source": shown_as or source, "file_name": p.file_name, "sha256": p.sha256, "problem": p.problem,
          "consequence": p.consequence} for p in problems],
        columns=["source", "file_name", "sha256", "problem", "consequence"],
    ).astype("string")
    con.register("_problems", frame)
    con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT source, file_name, sha256, problem, consequence, "
                "now()::TIMESTAMP AS found_at FROM _problems")
    con.unregister("_problems")


def staging_tables_asset(
    *,
    name: str,
    raw: dg.AssetsDefinition,
    source: str,
    feed_label: str,
    tables: Mapping[str, str],
    reader: FeedReader,
    group: str | None = None,
    extra_metadata: ExtraMetadata | None = None,
    op_tags: Mapping[str, str] | None = None,
) -> dg.AssetsDefinition:
    """One multi-asset writing ``tables`` ({table: description}) in one transaction, one source standing alone."""
    rules = _gate_rules(tables)
    problems_table = feed_problems_table(source)

    @dg.multi_asset(
        name=name,
        specs=[
            dg.AssetSpec(
                key=table.split("."),
                deps=[raw],
                description=description,
                group_name=group or source,
                kinds={"duckdb", "pandas"},
                owners=OWNERS,
                freshness_policy=freshness_policy(source) if table != problems_table else None,
            )
            for table, description in {**tables, problems_table: f"What could not be read from the {feed_label} "
                                       "feed in the latest run, and what the tracker did about it."}.items()
        ] + [
            dg.AssetSpec(
                key=build_table(source).split("."),
                deps=[raw],
                description=f"When the tracker last wrote the {feed_label} tables (UTC), or found them built from "
                "the same inputs, and when it last tried: the age of the build, as opposed to the age of the "
                "source's latest figure; and a sha256 of the inputs they were built from.",
                group_name=group or source,
                kinds={"duckdb"},
                owners=OWNERS,
            )
        ],
        can_subset=False,
        op_tags=op_tags,
    )
    def _staging(context, settings: TrackerConfig, warehouse: DuckDBResource):
        keys = [t.split(".") for t in [*tables, problems_table]]
        with connect(warehouse) as con:
            listed = listed_files(con, source)
            inputs = inputs_sha256(source, listed, settings)
            unchanged = kept_if_unchanged(context, con, source, inputs, keys)
        if unchanged is not None:
            yield from unchanged
            return
        with connect(warehouse) as con:
            forget_inputs(con, source)
            parsed, problems, surprised = _parse_listed(con, source, reader, context.log, listed)
            written = False
            for _ in range(MAX_REBUILDS):
                try:
                    frames = reader.assemble(parsed, settings)
                    _write_and_gate(con, frames, rules, settings.as_of_date(), parsed)
                    written = True
                    break
                except FeedError as err:
                    problems.append(Problem(err.file_name, None, err.problem, KEPT))
                    break
                except DeclarationError as err:  # a settings file it is read with (aliases): said as it is
                    problems.append(Problem(None, None, str(err), KEPT))
                    break
                except Quarantine as q:
                    problems.extend(q.problems)
                    if any(p.file_name is None for p in q.problems):
                        break
                    for p in q.problems:
                        parsed.pop(p.file_name, None)
                except dg.Failure as err:  # said for a person already (an alias naming a body not in the register)
                    problems.append(Problem(None, None, err.description or unexpected("Failure"), KEPT))
                    break
                except Exception as err:  # noqa: BLE001 - the source keeps its last good figures, the run goes on
                    context.log.exception(f"{feed_label}: the files could not be put together")
                    problems.append(Problem(None, None, unexpected(type(err).__name__), KEPT))
                    surprised = True
                    break
            if not written and all(p.consequence != KEPT for p in problems):
                problems.append(Problem(None, None, f"more than {MAX_REBUILDS} rounds of versions broke its rules",
                                        KEPT))
            # a source never read has no last good tables to keep: it starts empty, so that its checks, the marts
            # and the publication go on without it, and says so
            made: set[str] = set()
            if not written:
                existing = _tables(con)
                made = {t for t in tables if t not in existing and empty_table(con, t)}
            _record_problems(con, source, problems)
            build = record_build(con, source, written, context.run_id, None if surprised else inputs)
            present = _tables(con)
            metadata = {t: tables_metadata(con, [t]) for t in [*tables, problems_table] if t in present}
        for p in problems:
            context.log.warning(f"{feed_label}: {p.file_name or 'the source'}: {p.problem} ({p.consequence}).")
        for table, extra in (extra_metadata(frames) if extra_metadata and written else {}).items():
            metadata[table] |= extra
        for table in [*tables, problems_table]:
            meta = metadata.get(table, {})
            if table != problems_table:
                meta = {**meta, "source status": "as published" if written else NEVER_READ if table in made else KEPT}
            yield dg.MaterializeResult(asset_key=table.split("."), metadata=meta)
        yield dg.MaterializeResult(asset_key=build_table(source).split("."), metadata=build)

    return _staging


def staging_table_asset(
    *,
    raw: dg.AssetsDefinition,
    source: str,
    feed_label: str,
    table: str,
    reader: FeedReader,
    description: str,
    extra_metadata: Callable[[pd.DataFrame], dict] | None = None,
) -> dg.AssetsDefinition:
    """The common case: one source, one table."""
    return staging_tables_asset(
        name=table.replace(".", "__"),
        raw=raw,
        source=source,
        feed_label=feed_label,
        tables={table: description},
        reader=reader,
        extra_metadata=(lambda frames: {table: extra_metadata(frames[table])}) if extra_metadata else None,
    )
