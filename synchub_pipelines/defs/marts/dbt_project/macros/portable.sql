{#-
  What differs between the two warehouses, in one place. Every model is written in SQL both
  PostgreSQL and SQLite run (window functions included); where they differ (time
  arithmetic, time zones, JSON, exact money) a macro dispatches to one implementation per
  adapter. SQLite stores instants as ISO text ('2026-03-14 15:00:00.000000', some with
  '+00:00'), dates as 'YYYY-MM-DD', booleans as 0/1 and NUMERIC money as REAL, so
  arithmetic on money goes through whole cents, and time through seconds since the epoch.
-#}

{# Seconds since 1970-01-01 UTC of an instant (a UTC timestamp column). #}
{% macro epoch(ts) %}{{ return(adapter.dispatch('epoch', 'synchub_marts')(ts)) }}{% endmacro %}
{% macro default__epoch(ts) %}CAST(EXTRACT(EPOCH FROM {{ ts }}) AS NUMERIC){% endmacro %}
{% macro sqlite__epoch(ts) %}((julianday({{ ts }}) - 2440587.5) * 86400.0){% endmacro %}

{# Hours from one instant to another (fractional). #}
{% macro hours_between(start_ts, end_ts) -%}
  (({{ epoch(end_ts) }} - {{ epoch(start_ts) }}) / 3600.0)
{%- endmacro %}

{# The instant the "now"-relative figures are measured at (var `as_of`), in epoch seconds. #}
{% macro as_of_epoch() %}{{ return(adapter.dispatch('as_of_epoch', 'synchub_marts')()) }}{% endmacro %}
{% macro default__as_of_epoch() -%}
  {%- if var('as_of', none) -%}
    CAST(EXTRACT(EPOCH FROM CAST('{{ var("as_of") }}' AS TIMESTAMP)) AS NUMERIC)
  {%- else -%}
    CAST(EXTRACT(EPOCH FROM CURRENT_TIMESTAMP) AS NUMERIC)
  {%- endif -%}
{%- endmacro %}
{% macro sqlite__as_of_epoch() -%}
  {%- if var('as_of', none) -%}
    ((julianday('{{ var("as_of") }}') - 2440587.5) * 86400.0)
  {%- else -%}
    ((julianday('now') - 2440587.5) * 86400.0)
  {%- endif -%}
{%- endmacro %}

{# The as-of instant itself, as a UTC timestamp of the warehouse. #}
{% macro as_of_timestamp() %}{{ return(adapter.dispatch('as_of_timestamp', 'synchub_marts')()) }}{% endmacro %}
{% macro default__as_of_timestamp() -%}
  {%- if var('as_of', none) -%}
    CAST('{{ var("as_of") }}+00' AS TIMESTAMPTZ)
  {%- else -%}
    CURRENT_TIMESTAMP
  {%- endif -%}
{%- endmacro %}
{% macro sqlite__as_of_timestamp() -%}
  {%- if var('as_of', none) -%}
    strftime('%Y-%m-%d %H:%M:%f', '{{ var("as_of") }}')
  {%- else -%}
    strftime('%Y-%m-%d %H:%M:%f', 'now')
  {%- endif -%}
{%- endmacro %}

{#
  The local calendar date of an instant in an IANA time zone (a column or literal).
  SQLite has no time zone database: there the zones of Brazil (fixed offsets since 2019)
  and UTC are known, and any other zone gives NULL, which the models' not_null tests turn
  into a failure rather than a wrong day.
#}
{% macro local_date(ts, tz) %}{{ return(adapter.dispatch('local_date', 'synchub_marts')(ts, tz)) }}{% endmacro %}
{% macro default__local_date(ts, tz) %}CAST(({{ ts }} AT TIME ZONE {{ tz }}) AS DATE){% endmacro %}
{% macro sqlite__local_date(ts, tz) -%}
  date({{ ts }}, CASE {{ tz }}
    WHEN 'UTC' THEN '+0 hours' WHEN 'Etc/UTC' THEN '+0 hours'
    WHEN 'America/Noronha' THEN '-2 hours'
    WHEN 'America/Sao_Paulo' THEN '-3 hours' WHEN 'America/Bahia' THEN '-3 hours'
    WHEN 'America/Fortaleza' THEN '-3 hours' WHEN 'America/Recife' THEN '-3 hours'
    WHEN 'America/Belem' THEN '-3 hours' WHEN 'America/Maceio' THEN '-3 hours'
    WHEN 'America/Araguaina' THEN '-3 hours' WHEN 'America/Santarem' THEN '-3 hours'
    WHEN 'America/Manaus' THEN '-4 hours' WHEN 'America/Cuiaba' THEN '-4 hours'
    WHEN 'America/Campo_Grande' THEN '-4 hours' WHEN 'America/Porto_Velho' THEN '-4 hours'
    WHEN 'America/Boa_Vista' THEN '-4 hours'
    WHEN 'America/Rio_Branco' THEN '-5 hours' WHEN 'America/Eirunepe' THEN '-5 hours'
  END)
{%- endmacro %}

{# The Monday that starts the ISO week of a date. #}
{% macro week_start(d) %}{{ return(adapter.dispatch('week_start', 'synchub_marts')(d)) }}{% endmacro %}
{% macro default__week_start(d) %}CAST(DATE_TRUNC('week', CAST({{ d }} AS DATE)) AS DATE){% endmacro %}
{% macro sqlite__week_start(d) %}date({{ d }}, 'weekday 0', '-6 days'){% endmacro %}

{# A money amount as whole cents (an exact integer on both warehouses; NULL counts 0). #}
{% macro cents(amount) -%}
  CAST(ROUND(COALESCE({{ amount }}, 0) * 100) AS {{ dbt.type_bigint() }})
{%- endmacro %}

{# Whole cents back to money with two decimals. #}
{% macro money(cents_expr) %}{{ return(adapter.dispatch('money', 'synchub_marts')(cents_expr)) }}{% endmacro %}
{% macro default__money(cents_expr) %}CAST(({{ cents_expr }}) / 100.0 AS NUMERIC(14, 2)){% endmacro %}
{% macro sqlite__money(cents_expr) %}ROUND(({{ cents_expr }}) / 100.0, 2){% endmacro %}

{# A rounded number (PostgreSQL rounds only NUMERIC to a number of digits). #}
{% macro round_to(value, digits) -%}
  ROUND(CAST({{ value }} AS NUMERIC), {{ digits }})
{%- endmacro %}

{# num / den as a decimal share, NULL when den is 0 (never integer division). #}
{% macro ratio(num, den, digits=4) -%}
  ROUND(CAST({{ num }} AS NUMERIC) * 1.0 / NULLIF({{ den }}, 0), {{ digits }})
{%- endmacro %}

{# The row number that holds the p-th percentile (nearest rank: ceil(p/100 × n)) of n values. #}
{% macro nearest_rank(p, n) -%}
  (({{ p }} * {{ n }} + 99) / 100)
{%- endmacro %}

{# Number of elements of a JSON array held as text. #}
{% macro json_length(text) %}{{ return(adapter.dispatch('json_length', 'synchub_marts')(text)) }}{% endmacro %}
{% macro default__json_length(text) %}json_array_length(CAST(COALESCE({{ text }}, '[]') AS JSON)){% endmacro %}
{% macro sqlite__json_length(text) %}json_array_length(COALESCE({{ text }}, '[]')){% endmacro %}

{# Statuses of an order that was paid: what the sales mart counts as a sale. #}
{% macro sold_statuses() -%}
  ('paid', 'shipped', 'delivered', 'returned')
{%- endmacro %}

{# The number of the `seconds`-long period since the epoch an instant falls in. #}
{% macro epoch_bucket(ts, seconds) -%}
  (CAST({{ epoch(ts) }} AS {{ dbt.type_bigint() }}) / {{ seconds }})
{%- endmacro %}

{# A money expression (already in currency units) typed as money: NUMERIC(14,2). #}
{% macro as_money(expr) %}{{ return(adapter.dispatch('as_money', 'synchub_marts')(expr)) }}{% endmacro %}
{% macro default__as_money(expr) %}CAST({{ expr }} AS NUMERIC(14, 2)){% endmacro %}
{% macro sqlite__as_money(expr) %}ROUND({{ expr }}, 2){% endmacro %}
