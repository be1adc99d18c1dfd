"""data/targets.yaml says nothing the rest of the tracker contradicts: closed platforms are the sources that
closed, a target judged per department names a real column, and a title quotes no figure nothing tracks."""

from __future__ import annotations

import re

import pytest
import yaml

from assets.targets import TargetsFileError, load_targets
from tests.conftest import DATA, PROJECT
from tracker.sources import SOURCES

MARTS = PROJECT / "assets" / "dbt" / "models" / "marts"


@pytest.fixture(scope="module")
def declared():
    return yaml.safe_load((DATA / "targets.yaml").read_text(encoding="utf-8"))


def test_closed_platforms_are_the_sources_that_closed(declared):
    frame, _ = load_targets(DATA)
    for platform in declared["closed_platforms"]:
        sources = [s for s in SOURCES.values() if platform in s.platforms]
        assert sources and all(s.fresh_within_days is None and s.closed_note for s in sources), platform
    assert set(frame.loc[frame["platform_closed"], "platform"]) == set(declared["closed_platforms"])
    assert set(frame.loc[frame["platform_closed"], "target_id"]) >= {"verify-25m-users-2020"}


def test_judged_in_names_a_described_mart_column(declared):
    columns = {}
    for path in MARTS.glob("*/_*.yml"):
        for model in yaml.safe_load(path.read_text(encoding="utf-8"))["models"]:
            columns[model["name"]] = {c["name"] for c in model.get("columns", [])}
    judged = [t for t in declared["targets"] if t.get("judged_in")]
    assert [t["id"] for t in judged] == ["pay-notify-mandate-2024"]
    for target in judged:
        mart, column = target["judged_in"].split(".")
        assert column in columns.get(mart, set()), target["judged_in"]
        assert target["note"], f"{target['id']} says in words how it is judged"


def test_a_title_quotes_no_figure_that_nothing_tracks(declared):
    """A target no series tracks may quote its own target, a year and its population (the top 75), no more:
    a measured figure it quotes would sit beside a card that says nothing measures it."""
    for target in declared["targets"]:
        if target.get("tracked_by"):
            continue
        allowed = {float(target.get("target_value") or target.get("target_increase"))}
        allowed |= {float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", target.get("scope") or "")}
        for number in re.findall(r"\d[\d,]*(?:\.\d+)?", target["title"]):
            value = float(number.replace(",", ""))
            assert value in allowed or 2000 <= value <= 2100, f"{target['id']}: the title quotes {number}"


def test_the_file_is_checked(data_copy):
    path = data_copy / "targets.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  - GOV.UK Verify\n", "  - GOV.UK Verfy\n", 1), encoding="utf-8")
    with pytest.raises(TargetsFileError, match="closed_platforms names no target's platform: GOV.UK Verfy"):
        load_targets(data_copy)
    path.write_text(text.replace("judged_in: department_league.pay_and_notify", "judged_in: the league table"),
                    encoding="utf-8")
    with pytest.raises(TargetsFileError, match="pay-notify-mandate-2024: judged_in names a mart and its column"):
        load_targets(data_copy)
