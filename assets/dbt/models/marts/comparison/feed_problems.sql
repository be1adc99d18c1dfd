-- What the latest run could not read from each platform and reference source (one writer each).
{% for source_key in ['pay', 'forms', 'notify', 'one_login', 'verify', 'data_sharing', 'organisations'] %}
{% if not loop.first %}UNION ALL {% endif %}SELECT * FROM {{ source('quarantine', source_key ~ '_feed_problems') }}
{% endfor %}
