WITH latest AS (
    SELECT platform, measure, max(month) AS month FROM {{ ref('adoption_by_department_month') }} GROUP BY platform, measure
),
figures AS (
    SELECT a.department_slug, a.platform, a.measure, sum(a.value) AS value
    FROM {{ ref('adoption_by_department_month') }} a JOIN latest USING (platform, measure, month)
    WHERE a.department_slug IS NOT NULL GROUP BY a.department_slug, a.platform, a.measure
),
departments AS (
    SELECT d.organisation_slug AS department_slug, d.name AS department_name, d.organisation_code AS department_code,
           d.organisation_type,
           (SELECT count(*) FROM {{ source('staging', 'organisations') }} b
             WHERE b.department_slug = d.organisation_slug AND b.status <> 'closed'
               AND b.organisation_slug <> d.organisation_slug) AS bodies
    FROM {{ source('staging', 'organisations') }} d WHERE d.is_department
),
wide AS (
    SELECT department_slug,
        sum(value) FILTER (WHERE platform = 'GOV.UK Pay' AND measure = 'live services') AS pay_live_services,
        sum(value) FILTER (WHERE platform = 'GOV.UK Pay' AND measure = 'organisations') AS pay_organisations,
        sum(value) FILTER (WHERE platform = 'GOV.UK One Login' AND measure = 'live services') AS one_login_services,
        sum(value) FILTER (WHERE platform = 'Data sharing' AND measure = 'APIs published') AS apis_published,
        sum(value) FILTER (WHERE platform = 'GOV.UK Notify' AND measure = 'organisations with data sharing agreement') AS notify_agreements_signed_2019,
        sum(value) FILTER (WHERE platform = 'GOV.UK Notify' AND measure = 'organisations') AS notify_organisations_2019
    FROM figures GROUP BY department_slug
)
SELECT d.*,
       coalesce(w.pay_live_services, 0) AS pay_live_services,
       coalesce(w.pay_organisations, 0) AS pay_organisations,
       coalesce(w.one_login_services, 0) AS one_login_services,
       coalesce(w.apis_published, 0) AS apis_published,
       coalesce(w.notify_agreements_signed_2019, 0) AS notify_agreements_signed_2019,
       coalesce(w.notify_organisations_2019, 0) AS notify_organisations_2019,
       (coalesce(w.pay_live_services, 0) > 0)::INT + (coalesce(w.one_login_services, 0) > 0)::INT
         + (coalesce(w.notify_organisations_2019, 0) > 0)::INT + (coalesce(w.apis_published, 0) > 0)::INT
         AS platforms_used
FROM departments d LEFT JOIN wide w USING (department_slug)
ORDER BY platforms_used DESC, pay_live_services DESC, one_login_services DESC, department_name
