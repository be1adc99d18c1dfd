{# Why a national count of digital civil servants as reported is not compared with the tracker's series. #}
{% macro not_this_measure(measure) -%}
CASE {{ measure }}
     WHEN 'ddat_function' THEN 'it counts the DDaT function (the profession and supporting roles), a wider measure than the DDaT profession the tracker''s Civil Service Statistics count; no public series of the function'
     WHEN 'it_profession' THEN 'it counts the IT profession, before the DDaT profession existed'
     WHEN 'ddat_profession_ons' THEN 'the tracker holds the Civil Service Statistics of 2021 to 2023 only'
     ELSE 'it counts digital roles as the statement words them, not the DDaT profession of the Civil Service Statistics'
END
{%- endmacro %}
