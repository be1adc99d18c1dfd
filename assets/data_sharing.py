"""Data sharing: the cross-government API catalogue (co-cddo/api-catalogue), every version of it.

History is what each version listed when it was published, never the newest
file's ``dateAdded`` read backwards: an API removed later still counts on the
dates it was listed. An API is its provider (after the curated
``api_catalogue_providers`` aliases) and its name; ``url`` repeats and is
sometimes blank. Each file is read by ``tracker/api_catalogue.py``.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from assets.raw import raw_files_asset
from assets.staging import FeedReader, Parsed, staging_tables_asset, versioned
from tracker.api_catalogue import ORGANISATIONS_PREFIX, parse_data_sharing_file
from tracker.organisation_names import load_aliases
from tracker.parsing import FeedError
from tracker.resources import TrackerConfig

SOURCE = "data_sharing"

api_catalogue_files = raw_files_asset(
    SOURCE, "data_sharing/catalogue_versions", "*.csv",
    "Every version of the cross-government API catalogue (with versions.csv: when each was published), "
    "and the catalogue's organisation list.",
    also=f"{SOURCE}/{ORGANISATIONS_PREFIX}_*.csv",
    feed=SOURCE,  # and every version the tracker fetched of catalogue.csv (assets/feeds.py)
)


LISTING_COLUMNS = ["published_on", "published_at", "file_name", "provider", "api_name"]


def build_catalogue_tables(parsed: Parsed, settings: TrackerConfig) -> dict[str, pd.DataFrame]:
    aliases = load_aliases(settings.data)
    names: dict[str, str] = {}
    for name, (_f, value) in parsed.items():
        if name.startswith(ORGANISATIONS_PREFIX):
            names |= value
    versions, pubs, shown = versioned(parsed, "data/data_sharing/catalogue_versions", settings.as_of_date(),
                                      is_version=lambda name: not name.startswith(ORGANISATIONS_PREFIX))
    provider_keys: dict[str, str] = {}  # as published -> its key: a few thousand providers, 700,000 listings

    def provider_key(provider: str) -> str:
        key = provider_keys.get(provider)
        if key is None:
            key = provider_keys[provider] = aliases.api_provider_key(provider)
        return key

    known = {provider_key(a["provider"]) for v in versions.values() for a in v["apis"] if a["well_formed"]}
    known.discard("")

    listings: dict[str, list] = {column: [] for column in LISTING_COLUMNS}  # as columns: 360,000 rows nationally
    version_rows, changes = [], []
    before: set[tuple[str, str]] = set()
    for name, v in sorted(versions.items(), key=lambda kv: (pubs[kv[0]].published_at, pubs[kv[0]].order)):
        pub = pubs[name]
        published_on = pub.published_on
        published_at = pub.published_at.astimezone(dt.UTC).replace(tzinfo=None)
        here: dict[tuple[str, str], dict] = {}
        for api in v["apis"]:
            key = provider_key(api["provider"])
            provider = key if key and (key in known or api["well_formed"]) else "unknown provider"
            here.setdefault((provider, api["api_name"].casefold()), api | {"provider_key": provider})
        is_shown = name in shown
        version_rows.append({
            "file_name": name, "published_at": published_at,
            "published_on": published_on, "apis_listed": len(here), "malformed_rows": v["malformed_rows"],
            "is_public_version": is_shown,
            "apis_added": len(here.keys() - before) if is_shown else None,
            "apis_removed": len(before - here.keys()) if is_shown else None,
            "not_used_because": None if is_shown else (
                "published after the reporting date" if published_on > settings.as_of_date()
                else "merged together with a later version, so never public on its own"),
        })
        if not is_shown:
            continue
        for key in sorted(here.keys() - before):
            changes.append({"published_on": published_on, "file_name": name, "provider": key[0],
                            "api_name": here[key]["api_name"], "change": "added"})
        for key in sorted(before - here.keys()):
            changes.append({"published_on": published_on, "file_name": name, "provider": key[0],
                            "api_name": key[1], "change": "removed"})
        listed = len(here)
        listings["published_on"] += [published_on] * listed
        listings["published_at"] += [published_at] * listed
        listings["file_name"] += [name] * listed
        listings["provider"] += [provider for provider, _ in here]
        listings["api_name"] += [api["api_name"] for api in here.values()]
        before = set(here)
        latest = here
    if not shown:
        raise FeedError("data/data_sharing", f"no catalogue version was published by {settings.as_of_date():%d %b %Y}.")
    first_listed = {}
    for provider, api_name, published_on in zip(listings["provider"], listings["api_name"], listings["published_on"],
                                                strict=True):
        first_listed.setdefault((provider, api_name.casefold()), published_on)
    current = pd.DataFrame([
        {"api_name": a["api_name"], "url": a["url"], "provider": key[0], "provider_as_published": a["provider"],
         "provider_name": names.get(key[0]) or names.get(a["provider"]), "date_added": a["date_added"],
         "date_updated": a["date_updated"], "end_date": a["end_date"], "first_listed_on": first_listed[key]}
        for key, a in latest.items()
    ])
    if "end_date" in current:  # a date whether or not any API has one yet (none has, so far)
        current["end_date"] = current["end_date"].astype("date32[pyarrow]")
    return {
        "staging.api_catalogue": current,
        "staging.api_catalogue_versions": pd.DataFrame(version_rows),
        "staging.api_catalogue_listings": pd.DataFrame(listings, columns=LISTING_COLUMNS),
        "staging.api_catalogue_changes": pd.DataFrame(
            changes, columns=["published_on", "file_name", "provider", "api_name", "change"]),
    }


CATALOGUE_TABLES = {
    "staging.api_catalogue": "Every API listed in the latest version of the cross-government API catalogue "
    "published by the reporting date, with its provider (after aliasing) and when the catalogue first listed it: "
    "the tracker's first measure of data sharing between organisations.",
    "staging.api_catalogue_versions": "Every version of the catalogue: when it was published, how many APIs it "
    "listed, how many were added and removed since the version before, and whether it was ever public on its own.",
    "staging.api_catalogue_listings": "Which APIs each public version listed (provider and name): the catalogue "
    "as it stood on each date.",
    "staging.api_catalogue_changes": "Each API added to or removed from the catalogue, with the version and date.",
}

api_catalogue = staging_tables_asset(
    name="api_catalogue_staging",
    raw=api_catalogue_files,
    source=SOURCE,
    feed_label="API catalogue",
    tables=CATALOGUE_TABLES,
    reader=FeedReader(parse=parse_data_sharing_file, assemble=build_catalogue_tables),
)
