"""Reference: the strategy targets, read from the one file that declares them (data/targets.yaml)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import dagster as dg
import pandas as pd
import yaml
from dagster_duckdb import DuckDBResource

from assets.raw import OWNERS
from tracker.resources import TrackerConfig
from tracker.warehouse import connect, replace_tables, tables_metadata

TARGETS_FILE = "targets.yaml"
REQUIRED = ["id", "strategy", "platform", "metric", "title", "unit", "deadline", "source_url"]
JUDGED_IN = re.compile(r"^[a-z_]+\.[a-z_]+$")  # <mart>.<column>, e.g. department_league.pay_and_notify


class TargetsFileError(ValueError):
    pass


def load_targets(data_dir: Path) -> tuple[pd.DataFrame, dict]:
    """-> one row per target, and the settings (status thresholds, forecast window)."""
    path = Path(data_dir) / TARGETS_FILE
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    closed = set(doc.get("closed_platforms") or [])
    rows = []
    for i, t in enumerate(doc.get("targets") or [], start=1):
        missing = [k for k in REQUIRED if not t.get(k)]
        if missing:
            raise TargetsFileError(
                f"{path.name}: target {i} ({t.get('id', 'no id')}) has no {', '.join(missing)}."
            )
        if ("target_value" in t) == ("target_increase" in t):
            raise TargetsFileError(
                f"{path.name}: target {t['id']} needs exactly one of target_value or target_increase."
            )
        if t.get("judged_in") and (t.get("tracked_by") or not JUDGED_IN.match(str(t["judged_in"]))):
            raise TargetsFileError(
                f"{path.name}: target {t['id']}: judged_in names a mart and its column (like "
                "department_league.pay_and_notify), for a target that no series tracks."
            )
        baseline = t.get("baseline") or {}
        rows.append(
            {
                "target_id": t["id"],
                "strategy": t["strategy"],
                "platform": t["platform"],
                "metric": t["metric"],
                "title": t["title"],
                "unit": t["unit"],
                "tracked_by": t.get("tracked_by"),
                "population": t.get("population"),
                "judged_in": t.get("judged_in"),
                "note": t.get("note"),
                "platform_closed": t["platform"] in closed,
                "baseline_date": baseline.get("date"),
                "baseline_value": None if baseline.get("value") in (None, "from_data") else float(baseline["value"]),
                "baseline_from_data": baseline.get("value") == "from_data",
                "baseline_note": baseline.get("note"),
                "target_value": float(t["target_value"]) if "target_value" in t else None,
                "target_increase": float(t["target_increase"]) if "target_increase" in t else None,
                "deadline": dt.date.fromisoformat(str(t["deadline"])),
                "scope": t.get("scope"),
                "source_note": t.get("source_note"),
                "source_url": t["source_url"],
            }
        )
    if not rows:
        raise TargetsFileError(f"{path.name} declares no targets.")
    frame = pd.DataFrame(rows)
    unknown = sorted(closed - set(frame["platform"]))
    if unknown:
        raise TargetsFileError(f"{path.name}: closed_platforms names no target's platform: {', '.join(unknown)}.")
    duplicated = frame["target_id"][frame["target_id"].duplicated()].tolist()
    if duplicated:
        raise TargetsFileError(f"{path.name}: target ids repeat: {', '.join(duplicated)}.")
    thresholds = doc.get("status_thresholds") or {}
    settings = {
        "on_track": float(thresholds.get("on_track", 0.95)),
        "at_risk": float(thresholds.get("at_risk", 0.80)),
        "forecast_window_days": int(doc.get("forecast_window_days", 365)),
    }
    return frame, settings


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["staging", "targets"], group_name="reference", kinds={"duckdb", "yaml"}, owners=OWNERS,
                     description="The Transformation Strategy, Roadmap and mandate targets from data/targets.yaml: "
                     "platform, metric, baseline, target, deadline, scope and source. Targets that are not numbers "
                     "are 100% of a named population. Whether the platform has closed (closed_platforms), and "
                     "where a target no series tracks is judged instead (judged_in), with a note in words."),
        dg.AssetSpec(["staging", "target_rules"], group_name="reference", kinds={"duckdb", "yaml"}, owners=OWNERS,
                     description="How targets are judged, from the top of data/targets.yaml: the status thresholds "
                     "(on track, at risk) and the window the forecast rate is measured over."),
    ],
    can_subset=False,
)
def targets(settings: TrackerConfig, warehouse: DuckDBResource):
    try:
        frame, rules = load_targets(settings.data)
    except (TargetsFileError, yaml.YAMLError, ValueError) as err:
        raise dg.Failure(description=f"data/targets.yaml could not be read: {err}") from None
    with connect(warehouse) as con:
        replace_tables(con, {"staging.targets": frame, "staging.target_rules": pd.DataFrame([rules])})
        meta = tables_metadata(con, ["staging.targets"])
        from_returns = frame["tracked_by"].fillna("").str.startswith("returns_")
        meta["tracked from platform data"] = int((frame["tracked_by"].notna() & ~from_returns).sum())
        meta["tracked from departments' returns"] = int(from_returns.sum())
        meta["not measured, judged per department"] = int(frame["judged_in"].notna().sum())
        meta["on closed platforms"] = int(frame["platform_closed"].sum())
        rules_meta = tables_metadata(con, ["staging.target_rules"])
    yield dg.MaterializeResult(asset_key=["staging", "targets"], metadata=meta)
    yield dg.MaterializeResult(asset_key=["staging", "target_rules"], metadata=rules_meta)
