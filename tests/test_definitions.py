"""Every definition loads, and the graph is what its users see in the Dagster UI."""

import dagster as dg

from pipelines.definitions import defs


def test_definitions_load_and_validate():
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    for expected in ("raw/pay_files", "staging/pay_snapshots", "staging/organisations",
                     "staging/organisation_matches", "staging/targets", "marts/target_progress",
                     "marts/adoption_by_department_month", "marts/department_scorecard", "published_snapshot"):
        assert expected in keys
    dg.Definitions.validate_loadable(defs)


def test_every_asset_has_group_description_kind_and_owner():
    for spec in defs.resolve_all_asset_specs():
        name = spec.key.to_user_string()
        assert spec.group_name and spec.group_name != "default", name
        assert spec.description, name
        assert spec.kinds, name
        assert spec.owners, name


def test_checks_are_declared_on_every_platform_source():
    checked = {key.asset_key.to_user_string() for key in defs.get_repository_def().asset_graph.asset_check_keys}
    for asset in ("staging/pay_snapshots", "staging/forms_metrics", "staging/notify_agreement_history",
                  "staging/one_login_services", "staging/verify_accounts", "staging/api_catalogue"):
        assert asset in checked


def test_the_returns_sensor_and_job_are_defined():
    from pipelines.definitions import defs

    sensor = defs.resolve_sensor_def("return_inbox_sensor")
    assert sensor.job_name == "ingest_returns"
    assert sensor.minimum_interval_seconds == 30
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert {"department_returns_meet_contract", "returns_reconcile_with_pay",
            "returns_complete_for_current_quarter", "returns_plausible_quarter_on_quarter"} <= checks


def test_every_schedule_and_sensor_is_on_by_default():
    """Scheduled runs are a user: nothing they need starts switched off under the daemon."""
    from pipelines.definitions import defs

    for schedule in defs.schedules:
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING, schedule.name
    for sensor in defs.sensors:
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING, sensor.name


def test_dagster_definitions_validate_passes(tmp_path):
    """What `dagster definitions validate` says of the workspace the README points `dagster dev` at."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    project = Path(__file__).resolve().parent.parent
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "TRACKER_HOME": str(tmp_path / "home")}
    done = subprocess.run([str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w",
                           "workspace.yaml"], cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful" in done.stdout + done.stderr
