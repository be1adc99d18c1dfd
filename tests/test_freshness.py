"""Freshness policies in Dagster: each source's staging tables carry its own window, the snapshot its weekly one."""

import datetime as dt

import dagster as dg

from pipelines.definitions import defs
from tracker.sources import SNAPSHOT_FRESH_WITHIN_DAYS, SOURCES


def _policies() -> dict[str, dg.FreshnessPolicy | None]:
    return {spec.key.to_user_string(): spec.freshness_policy for spec in defs.resolve_all_asset_specs()}


def test_every_platform_source_staging_table_carries_the_sources_window():
    policies = _policies()
    for table, source in [("staging/pay_snapshots", "pay"), ("staging/pay_organisation_services", "pay"),
                          ("staging/forms_metrics", "forms"), ("staging/one_login_services", "one_login"),
                          ("staging/api_catalogue", "data_sharing"), ("staging/organisations", "organisations")]:
        policy = policies[table]
        assert policy is not None, table
        assert policy.fail_window.to_timedelta() == dt.timedelta(days=SOURCES[source].fresh_within_days), table


def test_closed_sources_and_problem_tables_carry_no_policy():
    policies = _policies()
    for table in ("staging/verify_accounts", "staging/notify_agreement_history", "quarantine/pay_feed_problems"):
        assert policies[table] is None, table


def test_the_published_snapshot_fails_after_its_window():
    policy = _policies()["published_snapshot"]
    assert policy.fail_window.to_timedelta() == dt.timedelta(days=SNAPSHOT_FRESH_WITHIN_DAYS)
    assert policy.warn_window.to_timedelta() < policy.fail_window.to_timedelta()


def test_the_policies_survive_into_the_repository_the_ui_reads():
    """The UI reads the policy from the asset node, not the spec: read it back from there."""
    graph = defs.get_repository_def().asset_graph
    node = graph.get(dg.AssetKey(["staging", "pay_snapshots"]))
    assert node.freshness_policy is not None
    assert node.freshness_policy.fail_window.to_timedelta() == dt.timedelta(days=SOURCES["pay"].fresh_within_days)
