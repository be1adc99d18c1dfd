"""Fetching the platforms' live feeds (data/feeds.yaml): one asset per source, each keeping what it fetched.

``feeds/<source>_fetched`` fetches the source's address (TRACKER_FEED_<SOURCE>_URL overrides it) with
tracker/fetching.py, refuses a body that is not the source's format, and keeps the document under
TRACKER_HOME/feeds/<source>/ (tracker/feed_store.py): one identical to the last one kept adds no file.
The raw assets of Pay, Forms, the API catalogue and Notify's live figures read those documents beside
the archive (assets/raw.py), so a new version needs no code change.

A failed fetch never fails the run and never touches earlier figures: it is logged in fetches.csv,
named in the asset's metadata, and the ``<source>_feed_fetched`` check (ERROR, not blocking) fails with
the reason, in the Dagster UI. Downstream assets then re-read the documents already kept.

These assets reach the internet, so they are in the ``feeds`` group, which neither ``refresh_all``
(``tracker run``, ``tracker demo``) nor the tests' shared build materialise: only the schedules in
pipelines/schedules.py (one per source, at its feeds.yaml cron) and a run asked for in the UI do.
"""

from __future__ import annotations

import dagster as dg

from assets.raw import OWNERS, feed_key
from tracker.feed_store import FAILED, STORED, UNCHANGED, record_failure, source_dir, store, stored_documents
from tracker.feeds import FEEDS_FILE, load_feeds
from tracker.fetching import FetchError, fetch
from tracker.resources import TrackerConfig

GROUP = "feeds"


def check_name(source: str) -> str:
    return f"{source}_feed_fetched"


def fetch_asset(source: str, publisher: str) -> dg.AssetsDefinition:
    key = feed_key(source)

    @dg.asset(
        key=key,
        group_name=GROUP,
        kinds={"file"},
        owners=OWNERS,
        description=f"Fetches {publisher}'s live feed (data/feeds.yaml: '{source}') and keeps the document byte "
        f"for byte under TRACKER_HOME/feeds/{source}/ when it differs from the last one kept; every fetch, failed "
        "ones too, is a row of fetches.csv there. A failed fetch does not fail the run and changes no figure.",
        check_specs=[dg.AssetCheckSpec(check_name(source), asset=key, blocking=False,
                                       description=f"The latest fetch of {publisher}'s live feed succeeded and "
                                       "the document is in the format the source publishes.")],
    )
    def _fetch(context, settings: TrackerConfig):
        url = ""
        try:
            feed = load_feeds(settings.data / FEEDS_FILE)[source]
            url = feed.url
            fetched = fetch(url, expect=feed.format)
            kept = store(settings.home, source, fetched, fmt=feed.format)
        except Exception as err:  # noqa: BLE001 - a feed that fails never stops the run; its reason is shown
            if isinstance(err, FetchError):
                problem = err.problem
                reason = f"The {source} feed at {url} {problem}."
            else:
                problem = f"could not be fetched ({type(err).__name__}: {err})"
                reason = f"The {source} feed {problem}."
            try:
                record_failure(settings.home, source, url, problem)
            except OSError as log_err:
                context.log.error(f"{source}: the failure could not be logged in fetches.csv ({log_err}).")
            context.log.warning(f"{reason} Earlier documents and figures are unchanged.")
            yield dg.MaterializeResult(metadata=_metadata(settings, source, FAILED, url, reason=reason))
            yield dg.AssetCheckResult(check_name=check_name(source), passed=False,
                                      severity=dg.AssetCheckSeverity.ERROR,
                                      description=f"{reason} Earlier documents and figures are unchanged.",
                                      metadata={"url": url, "problem": problem})
            return
        outcome = STORED if kept is not None else UNCHANGED
        context.log.info(f"{source}: {outcome} ({len(fetched.content)} bytes, sha256 {fetched.sha256[:12]}).")
        yield dg.MaterializeResult(metadata=_metadata(
            settings, source, outcome, url, stored_as=kept.path.name if kept else "",
            fetched_at=fetched.fetched_at.isoformat(timespec="seconds"), sha256=fetched.sha256,
            size_bytes=len(fetched.content)))
        yield dg.AssetCheckResult(check_name=check_name(source), passed=True,
                                  description=f"Fetched {len(fetched.content)} bytes: "
                                  + ("a new document, kept." if kept else "the same as the last one kept."),
                                  metadata={"url": url, "outcome": outcome})

    return _fetch


def _metadata(settings: TrackerConfig, source: str, outcome: str, url: str, **more) -> dict:
    documents = stored_documents(settings.home, source)
    return {
        "outcome": outcome,
        "url": url,
        **{k.replace("_", " "): v for k, v in more.items()},
        "documents kept": len(documents),
        "latest document kept": documents[-1].path.name if documents else "none",
        "folder": str(source_dir(settings.home, source)),
    }


def _configured() -> dict:
    return {source: feed.publisher for source, feed in load_feeds().items()}


fetch_assets = [fetch_asset(source, publisher) for source, publisher in _configured().items()]
