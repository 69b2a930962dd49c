{#- column ≤ other column on every row (NULL on either side passes). -#}
{% test not_greater_than(model, column_name, other) %}
select {{ column_name }}, {{ other }}
from {{ model }}
where {{ column_name }} > {{ other }}
{% endtest %}
