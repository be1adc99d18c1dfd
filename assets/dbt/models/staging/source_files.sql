-- Every platform and reference file kept, from each source's own raw table (one writer each).
{% for source_key in ['pay', 'forms', 'notify', 'one_login', 'verify', 'data_sharing', 'organisations', 'skills'] %}
{% if not loop.first %}UNION ALL {% endif %}SELECT * FROM {{ source('raw', source_key ~ '_files') }}
{% endfor %}
