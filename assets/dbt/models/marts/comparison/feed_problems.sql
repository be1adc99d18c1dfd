-- What the latest run could not read from each platform and reference source (one writer each); the Notify
-- documents the tracker fetched (notify_live) are named under notify, the skills figures' department names
-- (skills_mapping) under skills.
{% for source_key in ['pay', 'forms', 'notify', 'notify_live', 'one_login', 'verify', 'data_sharing', 'organisations', 'skills', 'skills_mapping'] %}
{% if not loop.first %}UNION ALL {% endif %}SELECT * FROM {{ source('quarantine', source_key ~ '_feed_problems') }}
{% endfor %}
