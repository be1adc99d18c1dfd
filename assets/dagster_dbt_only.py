"""dagster-dbt for the processes that start dbt but never run it themselves: without dbt-core.

dagster-dbt imports dbt-core when it is first imported (a second of every run's start, and of the code server's)
only for a few status and node-type enums and type hints, which it defines itself where dbt-core is absent (its
path for dbt Fusion). A run starts dbt as its own process (assets/dbt_command.py), and its resource asks neither
dbt's adapter nor its version in this process (``TrackerDbtCliResource``), so dbt-core is kept out of it here.
Where dbt-core is already loaded (a process that runs dbt itself), dagster-dbt uses it as usual.
"""

import sys

_HELD_OUT = "dbt.version"  # what dagster-dbt tries first to learn whether dbt-core is installed (dagster_dbt/compat.py)

if "dagster_dbt" not in sys.modules and _HELD_OUT not in sys.modules:
    sys.modules[_HELD_OUT] = None  # an import of it raises ImportError, as if dbt-core were absent
    try:
        import dagster_dbt  # noqa: F401
    finally:
        if sys.modules.get(_HELD_OUT, 0) is None:
            del sys.modules[_HELD_OUT]

from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets  # noqa: E402

__all__ = ["DagsterDbtTranslator", "DbtCliResource", "dbt_assets"]
