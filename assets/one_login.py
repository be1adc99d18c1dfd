"""GOV.UK One Login: relying services in its account-management registry (2025 onwards).

History comes from the registry's event history (added, offboarded, restored,
removed, renamed, dated when each change reached ``main``), replayed in order:
a service counts on the dates it was in the registry and not offboarded, so one
offboarded later still counts before that. The registry snapshot gives each
client's address; without an event history the snapshot's own dates are used.
A rename that changes the key carries the service over to the new key.

The registry has no department column: a client is attributed through the
curated ``one_login`` section of data/organisation_aliases.yaml (own entry,
then key prefix, then service address). The registry began on 2025-02-05, so
the first date seen is a lower bound for services onboarded earlier.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlparse

import pandas as pd

from assets.raw import raw_files_asset
from assets.staging import FeedReader, Parsed, staging_tables_asset
from tracker.organisation_names import INTERNAL, OrganisationAliases, load_aliases
from tracker.parsing import FeedError, read_csv_feed, read_csv_rows
from tracker.resources import TrackerConfig
from tracker.versions import LONDON
from tracker.warehouse import SourceFile

SOURCE = "one_login"
COLUMNS = [
    "client_key", "service_name", "link_url", "is_offboarded",
    "show_in_services", "show_in_accounts", "has_production_client_id", "first_added_to_registry",
]

EVENT_COLUMNS = ["client_key", "service_name", "event", "event_at"]
EVENTS = {"added", "offboarded", "restored", "removed", "renamed"}

one_login_files = raw_files_asset(
    SOURCE, "one_login", "*.csv",
    "GOV.UK One Login's relying-party registry flattened to CSV, and its event history.",
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


def parse_registry(file: SourceFile) -> list[dict]:
    frame = read_csv_feed(file, COLUMNS, what="the registry")
    rows = []
    for i, r in enumerate(frame.to_dict("records"), start=2):
        if not r["client_key"].strip():
            raise FeedError(file.name, f"row {i}: client_key is empty.")
        first_seen = pd.to_datetime(r["first_added_to_registry"], utc=True, errors="coerce")
        if pd.isna(first_seen):
            raise FeedError(file.name, f"row {i}: first_added_to_registry "
                            f"{r['first_added_to_registry']!r} is not a date and time.")
        rows.append({
            "client_key": r["client_key"].strip(),
            "service_name": r["service_name"].strip(),
            "link_url": r["link_url"].strip() or None,
            "is_offboarded": _flag(r["is_offboarded"], file.name, "is_offboarded", i),
            "has_production_client_id": _flag(r["has_production_client_id"], file.name,
                                              "has_production_client_id", i),
            "first_added": first_seen.to_pydatetime(),
        })
    return rows


def parse_events(file: SourceFile) -> list[dict]:
    rows = read_csv_rows(file, EVENT_COLUMNS, "the event history")
    events = []
    for i, r in enumerate(rows, start=2):
        kind = (r["event"] or "").strip().lower()
        if kind not in EVENTS:
            raise FeedError(file.name, f"row {i}: event {r['event']!r} is not one of {', '.join(sorted(EVENTS))}.")
        try:
            at = dt.datetime.fromisoformat(r["event_at"].strip())
        except ValueError:
            raise FeedError(file.name, f"row {i}: event_at {r['event_at']!r} is not an ISO 8601 date and "
                            "time.") from None
        events.append({"client_key": r["client_key"].strip(), "service_name": (r["service_name"] or "").strip(),
                       "event": kind, "event_at": at if at.tzinfo else at.replace(tzinfo=dt.UTC), "row": i})
    return events


def parse_one_login_file(file: SourceFile) -> dict:
    if "event" in file.name:
        return {"events": parse_events(file)}
    return {"registry": parse_registry(file)}


def replay(events: list[dict], final_keys: set[str]) -> tuple[dict[str, dict], list[dict]]:
    """Events in order -> each client's periods in the registry and offboarded dates.

    A rename whose key is new moves the service from the key it replaces: the one
    in the registry that no later event and no registry snapshot names (the same
    service name first, if several could be).
    """
    ordered = sorted(events, key=lambda e: (e["event_at"], e["row"]))
    clients: dict[str, dict] = {}
    state: set[str] = set()
    mentioned_later = [set() for _ in ordered]
    seen: set[str] = set()
    for i in range(len(ordered) - 1, -1, -1):
        mentioned_later[i] = set(seen)
        seen.add(ordered[i]["client_key"])
    replayed = []
    for i, e in enumerate(ordered):
        key, when, kind = e["client_key"], e["event_at"], e["event"]
        client = clients.get(key)
        if kind == "renamed" and key not in clients:
            gone = [k for k in state if k not in final_keys and k not in mentioned_later[i] | {key}]
            same = [k for k in gone if clients[k]["service_name"] == e["service_name"]]
            old = (same or sorted(gone))[:1]
            if old:
                client = clients.pop(old[0])
                state.discard(old[0])
                state.add(key)
                client["renamed_from"] = old[0]
                clients[key] = client
            else:
                kind = "added"  # nothing it could replace: counted as a new service
        if kind == "added" or (client is None and kind == "restored"):
            client = clients.setdefault(key, {"periods": [], "first_seen": when, "offboarded_at": None})
            if key not in state:
                client["periods"].append([when, None])
                state.add(key)
        elif client is None:
            continue  # an event for a client never added: nothing to count
        elif kind == "removed" and key in state:
            if client["periods"] and client["periods"][-1][1] is None:
                client["periods"][-1][1] = when
            state.discard(key)
        elif kind == "offboarded" and client["offboarded_at"] is None:
            client["offboarded_at"] = when
            if client["periods"] and client["periods"][-1][1] is None:
                client["periods"][-1][1] = when
        elif kind == "restored":
            if key not in state:
                client["periods"].append([when, None])
                state.add(key)
            elif client["offboarded_at"] is not None:
                client["offboarded_at"] = None
                client["periods"].append([when, None])
        client["service_name"] = e["service_name"] or client.get("service_name", "")
        replayed.append(e | {"client_key": key, "applied_as": kind})
    for key, client in clients.items():
        client["in_registry"] = key in state
    return clients, replayed


def _date_in(file_name: str) -> dt.date | None:
    match = re.search(r"\d{4}-\d{2}-\d{2}", file_name)
    return dt.date.fromisoformat(match[0]) if match else None


def snapshot_events(rows: list[dict], clients: dict[str, dict], dated: dt.date, row: int) -> list[dict]:
    """The changes a registry snapshot shows against the replayed state, as events on the snapshot's date."""
    at = dt.datetime.combine(dated, dt.time(12), LONDON)
    listed = {r["client_key"]: r for r in rows}
    changes = []
    for key, r in listed.items():
        c = clients.get(key)
        if c is None or not c["in_registry"]:
            changes.append((key, r["service_name"], "added" if c is None else "restored"))
            if r["is_offboarded"]:
                changes.append((key, r["service_name"], "offboarded"))
        elif r["is_offboarded"] and c["offboarded_at"] is None:
            changes.append((key, r["service_name"], "offboarded"))
        elif not r["is_offboarded"] and c["offboarded_at"] is not None:
            changes.append((key, r["service_name"], "restored"))
    changes += [(key, c.get("service_name", ""), "removed") for key, c in clients.items()
                if c["in_registry"] and key not in listed]
    return [{"client_key": k, "service_name": n, "event": e, "event_at": at, "row": row + i}
            for i, (k, n, e) in enumerate(changes)]


def _london(moment: dt.datetime | None) -> dt.date | None:
    return moment.astimezone(LONDON).date() if moment else None


def build_one_login_tables(parsed: Parsed, settings: TrackerConfig) -> dict[str, pd.DataFrame]:
    aliases = load_aliases(settings.data)
    as_of = settings.as_of_date()
    registries = sorted((n, v) for n, (_f, v) in parsed.items() if "registry" in v)  # dated names: the last is newest
    unique = {(e["client_key"], e["event"], e["event_at"]): e for _n, (_f, v) in sorted(parsed.items())
              if "events" in v for e in v["events"]}  # a history exported again repeats earlier events
    events = [e for e in unique.values() if _london(e["event_at"]) <= as_of]
    if not registries and not events:
        raise FeedError("data/one_login", "no readable registry or event history: the source keeps its last "
                        "good figures.")
    registry = {r["client_key"]: r for r in (registries[-1][1]["registry"] if registries else [])}
    known = {r["client_key"] for _n, v in registries for r in v["registry"]}  # never the key a rename replaced
    if events:
        clients, replayed = replay(events, known)
        # a registry snapshot newer than the history adds what changed by its date, never rewrites before it
        last_event = max(_london(e["event_at"]) for e in events)
        for name, value in registries:
            dated = _date_in(name)
            if dated is None or not last_event < dated <= as_of:
                continue
            events += snapshot_events(value["registry"], clients, dated, row=len(events) + 2)
            clients, replayed = replay(events, known)
    else:  # a registry alone: each client from when it was first added, offboarded at an unknown date
        clients = {k: {"periods": [[r["first_added"], None]], "first_seen": r["first_added"], "in_registry": True,
                       "offboarded_at": None, "service_name": r["service_name"]} for k, r in registry.items()}
        replayed = []
    rows, periods = [], []
    for key, c in clients.items():
        listed = registry.get(key, {})
        link_url = listed.get("link_url")
        slug, how = attribute(key, link_url or "", aliases)
        offboarded = c["offboarded_at"] is not None or (not events and listed.get("is_offboarded", False))
        live = any(until is None for _, until in c["periods"]) and not offboarded
        rows.append({
            "client_key": key,
            "service_name": c.get("service_name") or listed.get("service_name"),
            "link_url": link_url,
            "renamed_from": c.get("renamed_from"),
            "first_seen": _london(c["first_seen"]),
            "offboarded_on": _london(c["offboarded_at"]),
            "is_offboarded": offboarded,
            "is_in_registry": c["in_registry"],
            "is_live": live,
            "is_internal": slug == INTERNAL,
            "organisation_slug": None if slug == INTERNAL else slug,
            "attributed_by": how,
        })
        for start, until in c["periods"]:
            periods.append({"client_key": key, "live_from": _london(start), "live_until": _london(until)})
    return {
        "staging.one_login_services": pd.DataFrame(rows),
        "staging.one_login_periods": pd.DataFrame(periods, columns=["client_key", "live_from", "live_until"]),
        "staging.one_login_events": pd.DataFrame(
            [{"client_key": e["client_key"], "service_name": e["service_name"], "event": e["event"],
              "applied_as": e["applied_as"], "event_at": e["event_at"].astimezone(dt.UTC).replace(tzinfo=None),
              "event_on": _london(e["event_at"])} for e in replayed],
            columns=["client_key", "service_name", "event", "applied_as", "event_at", "event_on"]),
    }


def _attribution_summary(frame: pd.DataFrame) -> dict:
    external = frame[~frame["is_internal"]]
    return {"services attributed": f"{external['organisation_slug'].notna().sum()} of {len(external)}"}


ONE_LOGIN_TABLES = {
    "staging.one_login_services": "Every service that has been in GOV.UK One Login's registry by the reporting "
    "date, with the organisation it is attributed to (and how), when it was first seen, whether it is live or "
    "was offboarded (and when). One Login's own and test clients are marked internal.",
    "staging.one_login_periods": "When each client was in the registry and not offboarded (live_until is the "
    "day it left; empty while it is still live): the registry as it stood on any date.",
    "staging.one_login_events": "The registry's event history as replayed: added, offboarded, restored, "
    "removed and renamed, each dated when it reached the registry's main line.",
}

one_login_services = staging_tables_asset(
    name="one_login_staging",
    raw=one_login_files,
    source=SOURCE,
    feed_label="GOV.UK One Login",
    tables=ONE_LOGIN_TABLES,
    reader=FeedReader(parse=parse_one_login_file, assemble=build_one_login_tables),
    extra_metadata=lambda frames: {"staging.one_login_services": _attribution_summary(
        frames["staging.one_login_services"])},
)
