-- One row per return in force and barrier it names, with its rank (1 is the main barrier). The contract names the
-- columns main_barrier_1, _2, ... (checks/return_contract.py): read by pattern, so another rank needs no change here.
-- A return on the version 1 template has no barrier columns filled, so it has no rows.
SELECT organisation_code, reporting_quarter, barrier,
       regexp_extract(rank_column, '([0-9]+)$', 1)::INTEGER AS barrier_rank
FROM (SELECT organisation_code, reporting_quarter, COLUMNS('^main_barrier_[0-9]+$')
      FROM {{ ref('returns_in_force') }} WHERE skills_reported)
UNPIVOT (barrier FOR rank_column IN (COLUMNS('^main_barrier_[0-9]+$')))
