-- Every measure the tracker makes, whether or not its source has figures yet: the one list of them. Targets and
-- published figures are checked against it, so a source never read leaves its targets 'no data', not a broken rule.
SELECT platform, metric, measure FROM (VALUES
    ('GOV.UK Pay', 'pay_live_services', 'live services'),
    ('GOV.UK Pay', 'pay_organisations', 'organisations'),
    ('GOV.UK Pay', 'pay_payments_cumulative', 'payments since launch'),
    ('GOV.UK Pay', 'pay_amount_gbp_cumulative', 'value of payments since launch (£)'),
    ('GOV.UK Forms', 'forms_live_forms', 'live forms'),
    ('GOV.UK Forms', 'forms_organisations', 'organisations'),
    ('GOV.UK Forms', 'forms_submissions_cumulative', 'submissions since launch'),
    ('GOV.UK One Login', 'one_login_services_onboarded', 'services onboarded'),
    ('GOV.UK Verify', 'verify_accounts_cumulative', 'accounts created since 2014'),
    ('GOV.UK Verify', 'verify_accounts_created', 'accounts created in the financial year'),
    ('GOV.UK Notify', 'notify_agreements_signed', 'organisations that signed the data sharing agreement'),
    ('GOV.UK Notify', 'notify_organisations', 'organisations on the domain register'),
    ('Data sharing', 'apis_published', 'APIs in the API catalogue'),
    ('Civil service skills', 'ddat_profession_share', 'civil servants in the DDaT profession (% of headcount)'),
    ('Civil service skills', 'ddat_profession_headcount', 'civil servants in the DDaT profession'),
    ('GOV.UK One Login', 'returns_departments_with_one_login_plan',
     'expected departments with a One Login adoption plan (% of them, from returns)')
) AS d (platform, metric, measure)
