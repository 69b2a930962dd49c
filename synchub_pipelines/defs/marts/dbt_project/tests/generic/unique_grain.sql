{#- Every combination of the grain's columns appears once (NULL is one value here, as in
    GROUP BY: an unlinked SKU or an unnamed carrier is one row of its grain). -#}
{% test unique_grain(model, columns) %}
select {{ columns | join(', ') }}, count(*) as rows_in_grain
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
