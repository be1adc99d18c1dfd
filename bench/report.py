"""The figures tables of BENCHMARKS.md, written from ``tracker bench``'s JSON results (so no figure is copied by hand).

    python3 -m uv run python -m bench.report WORK   # WORK: the folder holding bench-<size>.json, bench-scaling.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.postgres_marts import FIGURES as POSTGRES_FIGURES  # measured only with PostgreSQL installed

SIZES = ("small", "medium", "national")
# figure, what it is, target on this machine (None: no target), how to show it
FIGURES = [
    ("full_build_s", "full build, nothing to published snapshot (s)", None, "{:.1f}"),
    ("full_build_peak_mb", "full build: peak memory (MB)", 4096, "{:,.0f}"),
    ("full_build_cpu_s", "full build: CPU time, every process (s)", None, "{:.1f}"),
    ("full_build_cores", "full build: cores in use on average", None, "{:.2f}"),
    ("full_build_without_returns_s", "full build with an empty inbox: the platforms alone (s)", None, "{:.1f}"),
    ("full_build_without_returns_cpu_s", "... its CPU time (s)", None, "{:.1f}"),
    ("duckdb_script_s", "one DuckDB script, three marts (s)", None, "{:.2f}"),
    ("duckdb_script_cpu_s", "... its CPU time (s)", None, "{:.2f}"),
    ("pandas_s", "pandas, three marts (s)", None, "{:.2f}"),
    ("pandas_cpu_s", "... its CPU time (s)", None, "{:.2f}"),
    ("full_build_over_duckdb_script", "full build / DuckDB script", 3, "{:.1f}x"),
    ("full_build_cpu_floor_over_duckdb_script", "full build's CPU time shared over every core / DuckDB script: the "
     "least the ratio could be", None, "{:.2f}x"),
    ("full_build_cpu_floor_over_pandas", "full build's CPU time shared over every core / pandas", None, "{:.2f}x"),
    ("incremental_s", "incremental: 1 snapshot + 100 returns (s)", 15, "{:.1f}"),
    ("incremental_peak_mb", "incremental: peak memory (MB)", 4096, "{:,.0f}"),
    ("incremental_cpu_s", "incremental: CPU time, every process (s)", None, "{:.1f}"),
    ("sensor_tick_s", "sensor tick, 100 new files (s)", 2, "{:.3f}"),
    ("validate_warm_s", "one return validated, warm (s)", 0.2, "{:.3f}"),
    ("validate_cold_s", "tracker validate, cold (s)", 3, "{:.2f}"),
    ("dashboard_worst_p95_ms", "slowest dashboard query, p95 (ms)", 200, "{:.0f}"),
    ("snapshot_mb", "published snapshot (MB)", None, "{:.1f}"),
    ("dbt_build_duckdb_s", "the marts' `dbt build` on DuckDB (s)", None, "{:.1f}"),
    ("dbt_build_duckdb_sql_s", "... of which running SQL (s)", None, "{:.1f}"),
    ("copy_to_postgres_s", "their inputs copied into PostgreSQL (s)", None, "{:.1f}"),
    ("dbt_build_postgres_s", "the marts' `dbt build` on PostgreSQL (s)", None, "{:.1f}"),
    ("dbt_build_postgres_sql_s", "... of which running SQL (s)", None, "{:.1f}"),
    ("postgres_over_duckdb", "`dbt build`: PostgreSQL / DuckDB", None, "{:.2f}x"),
    ("bench_minutes", "the bench itself (minutes)", None, "{:.1f}"),
]


def _verdict(value: float, target: float | None) -> str:
    if target is None:
        return ""
    return " ✓" if value < target else " ✗"


def figures_table(results: dict[str, dict]) -> str:
    sizes = [s for s in SIZES if s in results]
    lines = ["| figure | target | " + " | ".join(f"{s} (x{results[s]['repeat']})" for s in sizes) + " |",
             "|---|---|" + "---|" * len(sizes)]
    for key, text, target, shown in FIGURES:
        cells = []
        for size in sizes:
            value = results[size].get(key)
            if value is None:
                missing = key in POSTGRES_FIGURES and results[size].get("postgres_installed") is False
                cells.append("n/a (PostgreSQL not installed)" if missing else "n/a")
            else:
                cells.append(shown.format(value) + _verdict(value, target))
        goal = "" if target is None else ("< " + (f"{target:,}" if target >= 1 else f"{target}"))
        lines.append(f"| {text} | {goal} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sizes_table(results: dict[str, dict]) -> str:
    lines = ["| size | organisations x weeks | organisation-weeks | Pay JSON | returns (bad, duplicates) |",
             "|---|---|---|---|---|"]
    for size in (s for s in SIZES if s in results):
        g = results[size]["generated"]
        lines.append(f"| {size} | {g['organisations']:,} x {g['pay_weeks']} | {g['organisation_weeks']:,} | "
                     f"{g['pay_bytes'] / 2**20:,.1f} MB | {g['returns_files']:,} ({g['returns_bad']:,}, "
                     f"{g['returns_duplicate']:,}) from {g['returners']:,} bodies x {g['quarters']} quarters |")
    return "\n".join(lines)


def slowest_queries(result: dict, count: int = 5) -> str:
    queries = sorted(result["dashboard_queries"].items(), key=lambda kv: -kv[1]["p95_ms"])[:count]
    # rounded as the figures table rounds the slowest p95 (to a tenth, then shown whole), so the two agree
    return ", ".join(f"`{name}` {round(q['p50_ms'], 1):.0f}/{round(q['p95_ms'], 1):.0f} ms" for name, q in queries)


def scaling_table(scaling: dict) -> str:
    lines = ["| organisations x weeks | organisation-weeks | full build (s) | DuckDB script (s) | pandas (s) | "
             "full build peak (MB) |", "|---|---|---|---|---|---|"]
    for p in scaling["points"].values():
        lines.append(f"| {p['organisations']:,} x {p['weeks']} | {p['organisation_weeks']:,} | "
                     f"{p['full_build_s']:.1f} | {p['duckdb_script_s']:.2f} | {p['pandas_s']:.2f} | "
                     f"{p['full_build_peak_mb']:,} |")
    return "\n".join(lines)


def _each(values: list[float], form: str = "{:.2f}x") -> str:
    return ", ".join(form.format(v) for v in values)


def main(work: Path) -> int:
    results = {s: json.loads((work / f"bench-{s}.json").read_text(encoding="utf-8"))
               for s in SIZES if (work / f"bench-{s}.json").exists()}
    machine = next(iter(results.values()))["machine"]
    print(f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, {machine['os']}, "
          f"Python {machine['python']}, DuckDB {machine['duckdb']}, pandas {machine['pandas']}"
          + "".join(sorted({f", PostgreSQL {r['postgresql']}" for r in results.values() if r.get("postgresql")}))
          + ".\n")
    print(sizes_table(results), "\n")
    print(figures_table(results), "\n")
    for size, result in results.items():
        load = ", ".join(f"{x:.1f}" for x in result["machine"]["load_average_at_start"])
        print(f"- {size}: slowest queries (p50/p95) {slowest_queries(result)}; the bench started "
              f"{result['machine']['measured_at']}, load then {load}")
        if "each_full_build_over_duckdb_script" in result:  # a result from before the rounds were paired has none
            print(f"- {size}, each round: full build {_each(result['each_full_build_s'], '{:.1f} s')}; over the "
                  f"DuckDB script run straight after it {_each(result['each_full_build_over_duckdb_script'])}, "
                  f"over pandas {_each(result['each_full_build_over_pandas'])}; incremental "
                  f"{_each(result['each_incremental_s'], '{:.1f} s')}"
                  + (f"; the full build's CPU time shared over every core, over the script "
                     f"{_each(result['each_full_build_cpu_floor_over_duckdb_script'])}"
                     if "each_full_build_cpu_floor_over_duckdb_script" in result else "")
                  + (f"; with an empty inbox {_each(result['each_full_build_without_returns_s'], '{:.1f} s')}"
                     if "each_full_build_without_returns_s" in result else ""))
    if (work / "bench-scaling.json").exists():
        print()
        print(scaling_table(json.loads((work / "bench-scaling.json").read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
