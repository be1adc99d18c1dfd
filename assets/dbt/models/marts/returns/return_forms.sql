WITH returns AS (SELECT * FROM {{ ref('returns_in_context') }}),
rows AS (
    SELECT 'organisation' AS level, organisation_code, organisation_name, department_code, department_name,
           reporting_quarter, quarter_end, forms_total, forms_online, forms_paper_only,
           data_sharing_agreements, apis_published, 1 AS organisations_reporting, is_illustrative
    FROM returns
)
SELECT *, {{ rounded('CAST(forms_online AS DOUBLE PRECISION) / nullif(forms_total, 0)', 4) }} AS forms_online_share FROM (
    SELECT * FROM rows
    UNION ALL
    SELECT 'department', department_code, department_name, department_code, department_name, reporting_quarter,
           quarter_end, sum(forms_total), sum(forms_online), sum(forms_paper_only), sum(data_sharing_agreements),
           sum(apis_published), count(*), bool_or(is_illustrative)
    FROM rows GROUP BY department_code, department_name, reporting_quarter, quarter_end
    UNION ALL
    SELECT 'all returning organisations', NULL, 'All returning organisations', NULL, NULL, reporting_quarter,
           quarter_end, sum(forms_total), sum(forms_online), sum(forms_paper_only), sum(data_sharing_agreements),
           sum(apis_published), count(*), bool_or(is_illustrative)
    FROM rows GROUP BY reporting_quarter, quarter_end
) AS all_rows
ORDER BY level, department_name, organisation_name, quarter_end
