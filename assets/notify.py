"""GOV.UK Notify: who signed the data sharing and financial agreement (2018-2019).

``domains_2019-04-12.yml`` maps each email domain either to an owner record or,
as a string, to another domain (an alias); the owner is the organisation.
``agreement_counts_history_2018-2019.csv`` counts signed owners per version.
"""

from __future__ import annotations

import pandas as pd

from assets.raw import raw_files_asset
from assets.staging import staging_tables_asset, whole_source
from tracker.parsing import FeedError, read_csv_feed, read_yaml_feed, require_int
from tracker.warehouse import SourceFile

SOURCE = "notify"
HISTORY_COLUMNS = ["commit", "commit_date", "n_domains", "n_owners", "n_owners_agreement_signed"]

notify_files = raw_files_asset(
    SOURCE,
    "notify",
    "*",
    "GOV.UK Notify's register of public-sector email domains (2019) and the history of how "
    "many owners had signed its data sharing and financial agreement.",
)


def parse_domains(file: SourceFile) -> pd.DataFrame:
    data = read_yaml_feed(file)
    if not isinstance(data, dict) or not data:
        raise FeedError(file.name, "the domain register is empty or is not a map of domains.")
    owners: dict[str, dict] = {}
    for domain, record in data.items():
        if isinstance(record, str):
            continue  # an alias of another domain: the target domain carries the owner
        if not isinstance(record, dict) or not str(record.get("owner") or "").strip():
            raise FeedError(file.name, f"domain '{domain}' has no 'owner'.")
        owner = str(record["owner"]).strip()
        entry = owners.setdefault(
            owner, {"organisation_name": owner, "crown": False, "agreement_signed": False, "domains": []}
        )
        entry["crown"] |= bool(record.get("crown", False))
        entry["agreement_signed"] |= bool(record.get("agreement_signed", False))
        entry["domains"].append(str(domain))
    frame = pd.DataFrame(owners.values())
    frame["domain_count"] = frame["domains"].map(len)
    frame["domains"] = frame["domains"].map(lambda d: ", ".join(sorted(d)))
    frame["as_of"] = pd.Timestamp("2019-04-12").date()
    return frame


def parse_history(file: SourceFile) -> pd.DataFrame:
    frame = read_csv_feed(file, HISTORY_COLUMNS)
    out = pd.DataFrame({"commit": frame["commit"]})
    out["committed_at"] = pd.to_datetime(frame["commit_date"], utc=True, errors="coerce")
    bad = out["committed_at"].isna()
    if bad.any():
        row = int(bad.idxmax()) + 2
        raise FeedError(file.name, f"row {row}: commit_date {frame['commit_date'][row - 2]!r} is not a date.")
    out["committed_at"] = out["committed_at"].dt.tz_convert(None)
    for column in HISTORY_COLUMNS[2:] + ["n_crown_agreement_signed"]:
        if column in frame:
            values = [
                require_int(int(v) if str(v).lstrip("-").isdigit() else v, file.name, f"{column} (row {i + 2})")
                for i, v in enumerate(frame[column])
            ]
            out[column.removeprefix("n_")] = values
    return out


def build_notify_tables(files: list[SourceFile], _settings=None) -> dict[str, pd.DataFrame]:
    domains = [f for f in files if f.name.startswith("domains_") and f.name.endswith(".yml")]
    history = [f for f in files if f.name.startswith("agreement_counts_history")]
    if not domains or not history:
        raise FeedError("data/notify", "expected domains_*.yml and agreement_counts_history*.csv.")
    return {
        "staging.notify_organisations": parse_domains(domains[-1]),
        "staging.notify_agreement_history": parse_history(history[-1]),
    }


notify_staging = staging_tables_asset(
    name="notify_staging",
    raw=notify_files,
    source=SOURCE,
    feed_label="GOV.UK Notify",
    tables={
        "staging.notify_organisations": "Every organisation in Notify's 2019 domain register: crown status, "
        "whether it signed the data sharing and financial agreement, its domains.",
        "staging.notify_agreement_history": "How many Notify organisations had signed the agreement, per "
        "version of the register, Feb 2018 to Apr 2019.",
    },
    reader=whole_source(build_notify_tables),
)
