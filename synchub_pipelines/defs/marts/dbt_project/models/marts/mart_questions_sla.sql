{#-
  Buyers' questions per Mercado Livre store × day (the local date the question was asked,
  in the store's time zone): how many, the share answered, response times (nearest-rank
  percentiles over the day's answered questions, the same on both warehouses) and the
  questions still waiting for an answer more than 24 hours after they were asked, as of
  the as-of instant (var `as_of`, default the build's clock).

  Questions Mercado Livre removed (BANNED, DELETED, DISABLED) or that left the listing need
  no answer: they count in `questions`, not in `answerable_questions`.
-#}
with stores as (
    select store_id, tenant, timezone from {{ source('warehouse', 'stores') }}
    where marketplace = 'mercadolivre'
),

questions as (
    select
        q.store_id,
        s.tenant,
        {{ local_date('q.asked_at', 's.timezone') }} as question_date,
        case
            when q.status in ('BANNED', 'DELETED', 'DISABLED') or q.deleted_from_listing then 0
            else 1
        end as answerable,
        case when q.answered_at is not null then 1 else 0 end as answered,
        case
            when q.answered_at is not null
                then ({{ epoch('q.answered_at') }} - {{ epoch('q.asked_at') }}) / 60.0
        end as response_minutes,
        case
            when q.answered_at is null and q.status = 'UNANSWERED'
                and {{ epoch('q.asked_at') }} < {{ as_of_epoch() }} - 86400
                then 1
            else 0
        end as waiting_over_24h,
        case
            when q.answered_at is not null
                and {{ epoch('q.answered_at') }} - {{ epoch('q.asked_at') }} > 86400
                then 1
            else 0
        end as answered_after_24h
    from {{ source('warehouse', 'questions') }} as q
    inner join stores as s on s.store_id = q.store_id
),

ranked as (
    select
        store_id,
        question_date,
        response_minutes,
        row_number() over (partition by store_id, question_date order by response_minutes) as rn,
        count(*) over (partition by store_id, question_date) as n
    from questions
    where response_minutes is not null
),

percentiles as (
    select
        store_id,
        question_date,
        max(case when rn = {{ nearest_rank(50, 'n') }} then response_minutes end) as p50,
        max(case when rn = {{ nearest_rank(90, 'n') }} then response_minutes end) as p90
    from ranked
    group by store_id, question_date
)

select
    q.question_date,
    q.store_id,
    q.tenant,
    count(*) as questions,
    sum(q.answerable) as answerable_questions,
    sum(q.answered) as answered,
    {{ ratio('sum(q.answered)', 'sum(q.answerable)') }} as answered_share,
    {{ round_to('avg(q.response_minutes)', 1) }} as avg_response_minutes,
    {{ round_to('max(p.p50)', 1) }} as p50_response_minutes,
    {{ round_to('max(p.p90)', 1) }} as p90_response_minutes,
    sum(q.answered_after_24h) as answered_after_24h,
    sum(q.waiting_over_24h) as unanswered_over_24h
from questions as q
left join percentiles as p on p.store_id = q.store_id and p.question_date = q.question_date
group by q.question_date, q.store_id, q.tenant
