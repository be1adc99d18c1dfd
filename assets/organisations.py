"""Reference: every GOV.UK organisation and the department it rolls up to.

The 2026 GOV.UK organisations API is the spine (it still lists closed bodies
with their superseding links); the April 2017 list adds the Transformation
Strategy era's names and codes so that old returns and targets still resolve.
A body's department is found by following superseding links to a body that is
not closed, then parent links up to the first department. The tables are built
by tracker/organisation_register.py (Dagster-free, so that the returns commands
can use it too); this module makes them an asset.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from assets.raw import raw_files_asset
from assets.staging import staging_tables_asset, whole_source
from tracker.organisation_register import UnknownAliasOrganisations, organisation_tables
from tracker.resources import TrackerConfig
from tracker.warehouse import SourceFile

SOURCE = "organisations"

organisations_files = raw_files_asset(
    SOURCE,
    "organisations",
    "*",
    "The GOV.UK organisations API (2026) and the April 2017 GOV.UK organisations list and register.",
    group="reference",
)


def build_organisation_tables(files: list[SourceFile], settings: TrackerConfig) -> dict[str, pd.DataFrame]:
    """The register's two tables (tracker/organisation_register.py); an alias file naming an unknown body fails
    the run."""
    try:
        return organisation_tables(files, settings.data)
    except UnknownAliasOrganisations as err:
        raise dg.Failure(description=str(err)) from None


def _department_counts(frames: dict[str, pd.DataFrame]) -> dict[str, dict]:
    orgs = frames["staging.organisations"]
    return {"staging.organisations": {
        "departments": int(orgs["is_department"].sum()),
        "bodies with a department": int(orgs["department_slug"].notna().sum()),
    }}


organisations = staging_tables_asset(
    name="organisations",
    raw=organisations_files,
    source=SOURCE,
    feed_label="organisations reference",
    group="reference",
    tables={
        "staging.organisations": "Every GOV.UK organisation (2026 API, plus 2017-only bodies) with code, "
        "slug, name, abbreviation, type, status, the body that carries on its work after "
        "machinery-of-government changes, and the department it rolls up to.",
        "staging.organisation_identifiers": "Every identifier of an organisation (slug, 2017 slug, code, "
        "normalised name, abbreviation) -> its slug: the lookup behind organisation matching.",
    },
    reader=whole_source(build_organisation_tables),
    extra_metadata=_department_counts,
    # First among the steps ready with it: the returns intake starts as soon as the register is in
    # (assets/returns_ahead.py), and runs beside every step after.
    op_tags={"dagster/priority": "1"},
)
