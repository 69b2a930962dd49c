{#- SQLite has no comments on tables or columns: persist_docs (COMMENT ON, on PostgreSQL)
    has nothing to write there, and dbt-sqlite does not say so itself. -#}
{% macro sqlite__alter_relation_comment(relation, relation_comment) %}{% endmacro %}
{% macro sqlite__alter_column_comment(relation, column_dict) %}{% endmacro %}

{#- A model on SQLite waits up to a minute for another writer (the pipeline) to finish. -#}
{% macro sqlite_busy_timeout() %}
  {%- if target.type == 'sqlite' -%}PRAGMA busy_timeout = 60000{%- endif -%}
{% endmacro %}

{#- Source freshness on SQLite: it keeps instants as text, which dbt refuses as a
    timestamp; the same query, its two instants handed back as UTC datetimes. -#}
{% macro sqlite__collect_freshness(source, loaded_at_field, filter) %}
  {% call statement('collect_freshness', fetch_result=True, auto_begin=False) -%}
    select
      strftime('%Y-%m-%d %H:%M:%f', max(julianday({{ loaded_at_field }}))) as max_loaded_at,
      strftime('%Y-%m-%d %H:%M:%f', 'now') as snapshotted_at
    from {{ source }}
    {% if filter %}
    where {{ filter }}
    {% endif %}
  {% endcall %}
  {%- set result = load_result('collect_freshness') -%}
  {%- set row = result.table[0] -%}
  {%- set instants = [] -%}
  {%- for value in [row[0], row[1]] -%}
    {%- do instants.append(
        modules.datetime.datetime.fromisoformat(value) if value is not none else none
    ) -%}
  {%- endfor -%}
  {%- do result.update({'table': [instants]}) -%}
  {{ return(result) }}
{% endmacro %}
