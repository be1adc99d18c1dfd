"""GOV.UK Notify's live figures: live services per organisation, from the tracker's own fetches.

Notify publishes its performance data (tracker/notify_performance.py) with no history: each fetch
(feeds/notify_fetched, assets/feeds.py) keeps a document under TRACKER_HOME/feeds/notify/, and the
history here is those documents, each dated when it was fetched. An organisation the document lists more
than once (Notify groups rows it has not sorted) is summed. Names are matched to GOV.UK organisations as
Pay's are (assets/organisation_matching.py: the alias file, then the names). A document that cannot be
read is left out and named in quarantine.notify_live_feed_problems (and, under Notify, in marts.feed_problems
and on the data-quality page), as every source's files are; the
2019 agreement figures (assets/notify.py) are a separate source and do not change.
"""

from __future__ import annotations

from functools import cache

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.organisation_matching import Matcher
from assets.raw import OWNERS, raw_files_asset
from assets.staging import LEFT_OUT, Problem, _record_problems, unexpected
from checks.platform_checks import feed_problems_table
from tracker.feed_store import fetched_at_from_name
from tracker.notify_performance import parse_notify_performance
from tracker.organisation_names import load_aliases
from tracker.parsing import FeedError
from tracker.resources import TrackerConfig
from tracker.warehouse import connect, ensure_schemas, listed_files, load_files, replace_tables, tables_metadata

SOURCE = "notify_live"
FEED = "notify"
TABLE = "staging.notify_live_services"
COLUMNS = ["fetched_at", "file_name", "organisation_name", "live_services", "published_rows", "organisation_slug",
           "match_method", "organisation_code", "department_code"]

notify_live_files = raw_files_asset(
    SOURCE, None, "",
    "GOV.UK Notify's live performance data (features/performance.json) as the tracker fetched it.",
    group="notify", feed=FEED,
)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key=TABLE.split("."),
            deps=[notify_live_files, ["staging", "organisation_identifiers"], ["staging", "organisations"]],
            description="GOV.UK Notify's live services per organisation (the name as published, its rows summed) "
            "in every document the tracker fetched of Notify's performance data, dated when fetched, with the "
            "GOV.UK organisation and department the name matches (as Pay's names are matched).",
            group_name="notify", kinds={"duckdb", "pandas"}, owners=OWNERS,
        ),
        dg.AssetSpec(
            key=feed_problems_table(SOURCE).split("."),
            deps=[notify_live_files],
            description="What could not be read from the GOV.UK Notify documents fetched, in the latest run, and "
            "what the tracker did about it.",
            group_name="notify", kinds={"duckdb", "pandas"}, owners=OWNERS,
        ),
    ],
    can_subset=False,
)
def notify_live_services(context, settings: TrackerConfig, warehouse: DuckDBResource):
    problems: list[Problem] = []
    rows = []
    with connect(warehouse) as con:
        ensure_schemas(con)

        @cache
        def matching() -> tuple[Matcher, dict[str, tuple]]:
            """The matcher and each organisation's codes, made for the first name a document lists: at national
            size (133,000 identifiers, a large alias file) that takes most of a second, for nothing without one."""
            codes = {slug: (code, department) for slug, code, department in con.execute(
                "SELECT organisation_slug, organisation_code, department_code FROM staging.organisations").fetchall()}
            return Matcher.from_warehouse(con, load_aliases(settings.data)), codes

        lost: list = []
        for f in load_files(con, SOURCE, listed_files(con, SOURCE), lost):
            fetched_at = fetched_at_from_name(f.name) or f.received_at
            if fetched_at.date() > settings.as_of_date():
                continue  # fetched after the reporting date: not yet public then
            try:
                performance = parse_notify_performance(f.content, f.name)
            except FeedError as err:
                problems.append(Problem(f.name, f.sha256, err.problem, LEFT_OUT))
                continue
            except Exception as err:  # noqa: BLE001 - one document's surprise must never stop the source
                context.log.exception(f"GOV.UK Notify (live): {f.name} could not be parsed")
                problems.append(Problem(f.name, f.sha256, unexpected(type(err).__name__), LEFT_OUT))
                continue
            for organisation in performance.organisations:
                matcher, codes = matching()
                match = matcher.match(organisation.name)
                slug = match["organisation_slug"]
                code, department = codes.get(slug, (None, None))
                rows.append({"fetched_at": fetched_at, "file_name": f.name, "organisation_name": organisation.name,
                             "live_services": organisation.live_services, "published_rows": organisation.rows,
                             "organisation_slug": slug, "match_method": match["match_method"],
                             "organisation_code": code, "department_code": department})
        problems.extend(Problem(f.name, f.sha256, said, LEFT_OUT) for f, said in lost)
        frame = pd.DataFrame(rows, columns=COLUMNS).astype({"fetched_at": "datetime64[us]",
                                                            "live_services": "int64", "published_rows": "int64"})
        for column in ("file_name", "organisation_name", "organisation_slug", "match_method", "organisation_code",
                       "department_code"):
            frame[column] = frame[column].astype("string")
        replace_tables(con, {TABLE: frame})
        _record_problems(con, SOURCE, problems, shown_as=FEED)  # named under Notify in marts.feed_problems
        metadata = tables_metadata(con, [TABLE])
        problem_metadata = tables_metadata(con, [feed_problems_table(SOURCE)])
    for p in problems:
        context.log.warning(f"GOV.UK Notify (live): {p.file_name}: {p.problem} ({p.consequence}).")
    documents = frame["file_name"].nunique()
    yield dg.MaterializeResult(asset_key=TABLE.split("."), metadata={
        **metadata, "documents read": documents, "documents left out": len(problems),
        "latest fetch": str(frame["fetched_at"].max()) if documents else "none yet: the Notify feed has not "
        "been fetched (feeds/notify_fetched)"})
    yield dg.MaterializeResult(asset_key=feed_problems_table(SOURCE).split("."), metadata=problem_metadata)
