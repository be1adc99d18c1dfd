-- Every platform and reference file kept, from each source's own raw table (one writer each); their bytes are in
-- the raw store (tracker/raw_store.py). Columns named, so a table of another shape can never break the union.
{% for source_key in ['pay', 'forms', 'notify', 'one_login', 'verify', 'data_sharing', 'organisations', 'skills'] %}
{% if not loop.first %}UNION ALL {% endif %}SELECT source, file_name, sha256, size_bytes, origin, received_at, in_latest_listing
FROM {{ source('raw', source_key ~ '_files') }}
{% endfor %}
