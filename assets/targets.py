"""Reference: the strategy targets, read from the one file that declares them (data/targets.yaml)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.raw import OWNERS
from tracker.declaration_files import DeclarationError, read_declaration, section
from tracker.resources import TrackerConfig
from tracker.warehouse import connect, replace_tables, tables_metadata

TARGETS_FILE = "targets.yaml"
SHOWN = f"data/{TARGETS_FILE}"
REQUIRED = ["id", "strategy", "platform", "metric", "title", "unit", "deadline", "source_url"]
JUDGED_IN = re.compile(r"^[a-z_]+\.[a-z_]+$")  # <mart>.<column>, e.g. department_league.pay_and_notify
FIGURE_REQUIRED = ["id", "subject", "wording", "unit", "as_at", "as_at_precision", "said_by", "source_url"]
PRECISIONS = ("day", "month", "year")


class TargetsFileError(ValueError):
    pass


def _measures(target: dict, measures: dict, file_name: str) -> tuple[dict, dict]:
    """The target's measure and the one shown beside it; refuses judging a target on a series of another measure."""
    def measure(key: str | None, field: str) -> dict:
        if key is None:
            return {}
        if key not in measures:
            raise TargetsFileError(f"{file_name}: target {target['id']}: {field} '{key}' is not one of the measures "
                                   f"({', '.join(measures)}).")
        return measures[key]

    own, beside = measure(target.get("measure"), "measure"), measure(target.get("shown_beside"), "shown_beside")
    tracked = target.get("tracked_by")
    counted_by = {m.get("series"): key for key, m in measures.items() if m.get("series")}
    if tracked in counted_by and counted_by[tracked] != target.get("measure"):
        raise TargetsFileError(
            f"{file_name}: target {target['id']} is tracked by {tracked}, which counts {counted_by[tracked]}, not "
            f"{target.get('measure') or 'a declared measure'}: a target is judged only on a series that counts the "
            "same thing. Name the series' measure in shown_beside instead.")
    if target.get("shown_beside") and (target.get("shown_beside") == target.get("measure") or not beside.get("series")):
        raise TargetsFileError(f"{file_name}: target {target['id']}: shown_beside names a measure of another "
                               "definition that has a series.")
    return own, beside


def _items(doc: dict, key: str) -> list[dict]:
    """A list section whose every entry is a set of fields (a target, a published figure)."""
    items = section(doc, key, SHOWN, list)
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise DeclarationError(f"{SHOWN}: entry {i} of {key} must be fields written 'name: value'.")
    return items


def load_published_figures(data_dir: Path) -> pd.DataFrame:
    """What the government said about progress and baselines (published_figures in data/targets.yaml)."""
    path = Path(data_dir) / TARGETS_FILE
    doc = read_declaration(path, SHOWN)
    rows = []
    for i, f in enumerate(_items(doc, "published_figures"), start=1):
        missing = [k for k in FIGURE_REQUIRED if not f.get(k)]
        if missing:
            raise TargetsFileError(f"{path.name}: published figure {i} ({f.get('id', 'no id')}) has no "
                                   f"{', '.join(missing)}.")
        if f["as_at_precision"] not in PRECISIONS:
            raise TargetsFileError(f"{path.name}: published figure {f['id']}: as_at_precision is one of "
                                   f"{', '.join(PRECISIONS)}.")
        if bool(f.get("series")) == bool(f.get("no_series_because")):
            raise TargetsFileError(f"{path.name}: published figure {f['id']} needs exactly one of series (the "
                                   "tracker's figure for the same thing) or no_series_because.")
        rows.append({
            "figure_id": f["id"], "source_ids": ", ".join(f.get("source_ids") or []) or None, "subject": f["subject"],
            "wording": f["wording"], "value": None if f.get("value") is None else float(f["value"]),
            "unit": f["unit"], "as_at": dt.date.fromisoformat(str(f["as_at"])), "as_at_precision": f["as_at_precision"],
            "said_by": f["said_by"], "series": f.get("series"), "no_series_because": f.get("no_series_because"),
            "comparison_note": f.get("comparison_note"), "source_url": f["source_url"],
        })
    return pd.DataFrame(rows, columns=["figure_id", "source_ids", "subject", "wording", "value", "unit", "as_at",
                                       "as_at_precision", "said_by", "series", "no_series_because",
                                       "comparison_note", "source_url"])


def load_targets(data_dir: Path) -> tuple[pd.DataFrame, dict]:
    """-> one row per target, and the settings (status thresholds, forecast window)."""
    path = Path(data_dir) / TARGETS_FILE
    doc = read_declaration(path, SHOWN)
    closed = set(section(doc, "closed_platforms", SHOWN, list))
    measures = section(doc, "measures", SHOWN)
    rows = []
    for i, t in enumerate(_items(doc, "targets"), start=1):
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
        measure, beside = _measures(t, measures, path.name)
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
                "source_ids": ", ".join(t.get("source_ids") or []) or None,
                "measure": t.get("measure"),
                "measure_counts": measure.get("counts"),
                "beside_measure": t.get("shown_beside"),
                "beside_measure_name": beside.get("name"),
                "beside_counts": beside.get("counts"),
                "beside_series": beside.get("series"),
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
    thresholds = section(doc, "status_thresholds", SHOWN)
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
        dg.AssetSpec(["staging", "published_figures"], group_name="reference", kinds={"duckdb", "yaml"}, owners=OWNERS,
                     description="What the government said about progress and where things stood (the 2025 review's "
                     "baselines, progress statements), as published with source and date, from data/targets.yaml: "
                     "the series that counts the same thing, or why none does."),
        dg.AssetSpec(["staging", "target_rules"], group_name="reference", kinds={"duckdb", "yaml"}, owners=OWNERS,
                     description="How targets are judged, from the top of data/targets.yaml: the status thresholds "
                     "(on track, at risk) and the window the forecast rate is measured over."),
    ],
    can_subset=False,
)
def targets(settings: TrackerConfig, warehouse: DuckDBResource):
    try:
        frame, rules = load_targets(settings.data)
        figures = load_published_figures(settings.data)
    except DeclarationError as err:
        raise dg.Failure(description=str(err)) from None
    except (TargetsFileError, TypeError, AttributeError, ValueError) as err:  # a section of another shape
        raise dg.Failure(description=f"data/targets.yaml could not be read: {err}") from None
    with connect(warehouse) as con:
        replace_tables(con, {"staging.targets": frame, "staging.target_rules": pd.DataFrame([rules]),
                             "staging.published_figures": figures})
        meta = tables_metadata(con, ["staging.targets"])
        from_returns = frame["tracked_by"].fillna("").str.startswith("returns_")
        meta["tracked from platform data"] = int((frame["tracked_by"].notna() & ~from_returns).sum())
        meta["tracked from departments' returns"] = int(from_returns.sum())
        meta["not measured, judged per department"] = int(frame["judged_in"].notna().sum())
        meta["on closed platforms"] = int(frame["platform_closed"].sum())
        rules_meta = tables_metadata(con, ["staging.target_rules"])
        figures_meta = tables_metadata(con, ["staging.published_figures"])
    yield dg.MaterializeResult(asset_key=["staging", "targets"], metadata=meta)
    yield dg.MaterializeResult(asset_key=["staging", "published_figures"], metadata=figures_meta)
    yield dg.MaterializeResult(asset_key=["staging", "target_rules"], metadata=rules_meta)
