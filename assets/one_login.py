"""GOV.UK One Login: relying services in its account-management registry (2025 onwards).

The registry has no department column: a client is attributed through the
curated ``one_login`` section of data/organisation_aliases.yaml (own entry,
then key prefix, then service address). The registry began on 2025-02-05, so
the first date seen is a lower bound for services onboarded earlier.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pandas as pd

from assets.raw import raw_files_asset
from assets.staging import staging_table_asset
from tracker.organisation_names import INTERNAL, OrganisationAliases, load_aliases
from tracker.parsing import FeedError, read_csv_feed
from tracker.warehouse import SourceFile

SOURCE = "one_login"
COLUMNS = [
    "client_key", "service_name", "link_url", "is_offboarded",
    "show_in_services", "show_in_accounts", "has_production_client_id", "first_added_to_registry",
]

one_login_files = raw_files_asset(
    SOURCE, "one_login", "*.csv", "GOV.UK One Login's relying-party registry, flattened to CSV."
)


def key_prefix(client_key: str) -> str:
    """'dwpFindYourPensions' -> 'dwp'; 'hoDORS' -> 'ho'; 'CMAD' -> 'cmad'."""
    match = re.match(r"^[a-z]+", client_key)
    return match[0] if match else client_key.lower()


def attribute(client_key: str, link_url: str, aliases: OrganisationAliases) -> tuple[str | None, str]:
    """-> (organisation slug or 'internal' or None, how it was attributed)."""
    if client_key in aliases.one_login_clients:
        return aliases.one_login_clients[client_key], "client entry"
    prefix = key_prefix(client_key)
    if prefix in aliases.one_login_prefixes and prefix != client_key.lower():
        return aliases.one_login_prefixes[prefix], f"key prefix '{prefix}'"
    host = (urlparse(link_url).hostname or "") if link_url else ""
    for suffix, slug in sorted(aliases.one_login_hosts.items(), key=lambda kv: -len(kv[0])):
        if host == suffix or host.endswith("." + suffix):
            return slug, f"service address {suffix}"
    return None, "unattributed"


def _flag(value: str, file_name: str, column: str, row: int) -> bool:
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise FeedError(file_name, f"row {row}: {column} is {value!r}, expected true or false.")
    return text == "true"


def parse_registry(file: SourceFile, aliases: OrganisationAliases) -> pd.DataFrame:
    frame = read_csv_feed(file, COLUMNS, what="the registry")
    rows = []
    for i, r in enumerate(frame.to_dict("records"), start=2):
        if not r["client_key"].strip():
            raise FeedError(file.name, f"row {i}: client_key is empty.")
        first_seen = pd.to_datetime(r["first_added_to_registry"], utc=True, errors="coerce")
        if pd.isna(first_seen):
            raise FeedError(file.name, f"row {i}: first_added_to_registry "
                            f"{r['first_added_to_registry']!r} is not a date and time.")
        slug, how = attribute(r["client_key"], r["link_url"], aliases)
        rows.append(
            {
                "client_key": r["client_key"],
                "service_name": r["service_name"],
                "link_url": r["link_url"] or None,
                "is_offboarded": _flag(r["is_offboarded"], file.name, "is_offboarded", i),
                "has_production_client_id": _flag(r["has_production_client_id"], file.name,
                                                  "has_production_client_id", i),
                "first_seen": first_seen.date(),
                "is_internal": slug == INTERNAL,
                "organisation_slug": None if slug == INTERNAL else slug,
                "attributed_by": how,
            }
        )
    return pd.DataFrame(rows)


def _attribution_summary(frame: pd.DataFrame) -> dict:
    external = frame[~frame["is_internal"]]
    return {"services attributed": f"{external['organisation_slug'].notna().sum()} of {len(external)}"}


one_login_services = staging_table_asset(
    raw=one_login_files,
    source=SOURCE,
    feed_label="GOV.UK One Login",
    table="staging.one_login_services",
    build=lambda files, settings: parse_registry(files[-1], load_aliases(settings.data)),
    description="Services onboarded to GOV.UK One Login with the organisation each is attributed "
    "to (and how), the date first seen in the registry, and whether it has been offboarded. "
    "One Login's own and test clients are marked internal.",
    extra_metadata=_attribution_summary,
)
