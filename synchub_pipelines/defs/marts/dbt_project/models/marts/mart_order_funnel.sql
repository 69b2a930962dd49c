{#-
  The order funnel per store × week (the ISO week, Monday first, of the orders' business
  date): how many of the week's orders reached each status, how many were cancelled or
  returned, and how long paid orders took to ship and to arrive.

  An order reached a status when order_status_history has it, or it is the order's current
  status. The forward path pending → paid → shipped → delivered counts an order at every
  stage up to the furthest it reached, since marketplaces skip instants they do not state
  (Amazon states no paid instant). Durations use only instants the marketplace stated
  (history source `api` or `shipment`), never `observed` ones (when the pipeline first saw
  the status), and are NULL where no order of the row has both instants.
-#}
with stores as (
    select store_id, marketplace, tenant from {{ source('warehouse', 'stores') }}
),

orders as (
    select store_id, order_id, status, business_date
    from {{ source('warehouse', 'orders') }}
),

history as (
    select store_id, order_id, status, changed_at, source
    from {{ source('warehouse', 'order_status_history') }}
),

reached as (
    select store_id, order_id, status from history
    union
    select store_id, order_id, status from orders
),

per_order as (
    select
        o.store_id,
        o.order_id,
        {{ week_start('o.business_date') }} as week_start,
        max(case when r.status in ('paid', 'shipped', 'delivered', 'returned') then 1 else 0 end)
            as reached_paid,
        max(case when r.status in ('shipped', 'delivered') then 1 else 0 end) as reached_shipped,
        max(case when r.status = 'delivered' then 1 else 0 end) as reached_delivered,
        max(case when r.status = 'cancelled' then 1 else 0 end) as reached_cancelled,
        max(case when r.status = 'returned' then 1 else 0 end) as reached_returned
    from orders as o
    inner join reached as r on r.store_id = o.store_id and r.order_id = o.order_id
    group by o.store_id, o.order_id, o.business_date
),

stated as (
    select
        store_id,
        order_id,
        max(case when status = 'paid' then {{ epoch('changed_at') }} end) as paid_epoch,
        max(case when status = 'shipped' then {{ epoch('changed_at') }} end) as shipped_epoch,
        max(case when status = 'delivered' then {{ epoch('changed_at') }} end) as delivered_epoch
    from history
    where source in ('api', 'shipment')
    group by store_id, order_id
),

timed as (
    select
        p.store_id,
        p.week_start,
        case when s.shipped_epoch >= s.paid_epoch
            then (s.shipped_epoch - s.paid_epoch) / 3600.0 end as hours_paid_to_shipped,
        case when s.delivered_epoch >= s.paid_epoch
            then (s.delivered_epoch - s.paid_epoch) / 3600.0 end as hours_paid_to_delivered
    from per_order as p
    inner join stated as s on s.store_id = p.store_id and s.order_id = p.order_id
),

ranked_shipped as (
    select
        store_id,
        week_start,
        hours_paid_to_shipped as hours,
        row_number() over (partition by store_id, week_start order by hours_paid_to_shipped) as rn,
        count(*) over (partition by store_id, week_start) as n
    from timed
    where hours_paid_to_shipped is not null
),

ranked_delivered as (
    select
        store_id,
        week_start,
        hours_paid_to_delivered as hours,
        row_number() over (partition by store_id, week_start order by hours_paid_to_delivered)
            as rn,
        count(*) over (partition by store_id, week_start) as n
    from timed
    where hours_paid_to_delivered is not null
),

to_shipped as (
    select
        store_id,
        week_start,
        avg(hours) as avg_hours,
        max(case when rn = {{ nearest_rank(50, 'n') }} then hours end) as p50_hours
    from ranked_shipped
    group by store_id, week_start
),

to_delivered as (
    select
        store_id,
        week_start,
        avg(hours) as avg_hours,
        max(case when rn = {{ nearest_rank(50, 'n') }} then hours end) as p50_hours
    from ranked_delivered
    group by store_id, week_start
),

counts as (
    select
        store_id,
        week_start,
        count(*) as orders,
        sum(reached_paid) as orders_paid,
        sum(reached_shipped) as orders_shipped,
        sum(reached_delivered) as orders_delivered,
        sum(reached_cancelled) as orders_cancelled,
        sum(reached_returned) as orders_returned
    from per_order
    group by store_id, week_start
)

select
    c.week_start,
    c.store_id,
    s.marketplace,
    s.tenant,
    c.orders,
    c.orders_paid,
    c.orders_shipped,
    c.orders_delivered,
    c.orders_cancelled,
    c.orders_returned,
    {{ ratio('c.orders_cancelled', 'c.orders') }} as cancellation_rate,
    {{ ratio('c.orders_returned', 'c.orders_paid') }} as return_rate,
    {{ round_to('ts.avg_hours', 2) }} as avg_hours_paid_to_shipped,
    {{ round_to('ts.p50_hours', 2) }} as p50_hours_paid_to_shipped,
    {{ round_to('td.avg_hours', 2) }} as avg_hours_paid_to_delivered,
    {{ round_to('td.p50_hours', 2) }} as p50_hours_paid_to_delivered
from counts as c
inner join stores as s on s.store_id = c.store_id
left join to_shipped as ts on ts.store_id = c.store_id and ts.week_start = c.week_start
left join to_delivered as td on td.store_id = c.store_id and td.week_start = c.week_start
