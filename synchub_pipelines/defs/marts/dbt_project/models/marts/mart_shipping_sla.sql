{#-
  Shipping against the handling deadline per store × carrier × week (the ISO week, Monday
  first, of the order's business date). A package shipped late left after its `ship_by`;
  one overdue is still unshipped past it at the as-of instant (var `as_of`). Time to ship
  runs from the order's creation to the package leaving; time to deliver from leaving to
  arriving (the carrier's part). Cancelled packages are left out; `carrier` is NULL where
  the marketplace names none (its own fulfilment, or not labelled yet).
-#}
with stores as (
    select store_id, marketplace, tenant from {{ source('warehouse', 'stores') }}
),

packages as (
    select
        sh.store_id,
        sh.carrier,
        {{ week_start('o.business_date') }} as week_start,
        case when sh.ship_by is not null then 1 else 0 end as has_deadline,
        case when sh.shipped_at is not null then 1 else 0 end as shipped,
        case when sh.delivered_at is not null then 1 else 0 end as delivered,
        case
            when sh.shipped_at is not null and sh.ship_by is not null
                and {{ epoch('sh.shipped_at') }} > {{ epoch('sh.ship_by') }}
                then 1
            else 0
        end as shipped_late,
        case
            when sh.shipped_at is not null and sh.ship_by is not null
                and {{ epoch('sh.shipped_at') }} <= {{ epoch('sh.ship_by') }}
                then 1
            else 0
        end as shipped_on_time,
        case
            when sh.shipped_at is null and sh.ship_by is not null
                and sh.status in ('pending', 'ready_to_ship')
                and {{ epoch('sh.ship_by') }} < {{ as_of_epoch() }}
                then 1
            else 0
        end as overdue,
        case
            when sh.shipped_at is not null
                then {{ hours_between('o.created_at', 'sh.shipped_at') }}
        end as hours_to_ship,
        case
            when sh.shipped_at is not null and sh.delivered_at is not null
                then {{ hours_between('sh.shipped_at', 'sh.delivered_at') }}
        end as hours_to_deliver
    from {{ source('warehouse', 'shipments') }} as sh
    inner join {{ source('warehouse', 'orders') }} as o
        on o.store_id = sh.store_id and o.order_id = sh.order_id
    where sh.status <> 'cancelled'
),

ranked_ship as (
    select
        store_id,
        carrier,
        week_start,
        hours_to_ship as hours,
        row_number() over (partition by store_id, carrier, week_start order by hours_to_ship)
            as rn,
        count(*) over (partition by store_id, carrier, week_start) as n
    from packages
    where hours_to_ship is not null
),

ranked_deliver as (
    select
        store_id,
        carrier,
        week_start,
        hours_to_deliver as hours,
        row_number() over (partition by store_id, carrier, week_start order by hours_to_deliver)
            as rn,
        count(*) over (partition by store_id, carrier, week_start) as n
    from packages
    where hours_to_deliver is not null
),

p50_ship as (
    select store_id, carrier, week_start,
        max(case when rn = {{ nearest_rank(50, 'n') }} then hours end) as p50
    from ranked_ship
    group by store_id, carrier, week_start
),

p50_deliver as (
    select store_id, carrier, week_start,
        max(case when rn = {{ nearest_rank(50, 'n') }} then hours end) as p50
    from ranked_deliver
    group by store_id, carrier, week_start
),

totals as (
    select
        store_id,
        carrier,
        week_start,
        count(*) as packages,
        sum(has_deadline) as packages_with_deadline,
        sum(shipped) as packages_shipped,
        sum(delivered) as packages_delivered,
        sum(shipped_on_time) as shipped_on_time,
        sum(shipped_late) as shipped_late,
        sum(overdue) as overdue_unshipped,
        avg(hours_to_ship) as avg_hours_to_ship,
        avg(hours_to_deliver) as avg_hours_to_deliver
    from packages
    group by store_id, carrier, week_start
)

select
    t.week_start,
    t.store_id,
    s.marketplace,
    s.tenant,
    t.carrier,
    t.packages,
    t.packages_with_deadline,
    t.packages_shipped,
    t.packages_delivered,
    t.shipped_on_time,
    t.shipped_late,
    {{ ratio('t.shipped_late', 't.shipped_on_time + t.shipped_late') }} as late_share,
    t.overdue_unshipped,
    {{ round_to('t.avg_hours_to_ship', 2) }} as avg_hours_to_ship,
    {{ round_to('ps.p50', 2) }} as p50_hours_to_ship,
    {{ round_to('t.avg_hours_to_deliver', 2) }} as avg_hours_to_deliver,
    {{ round_to('pd.p50', 2) }} as p50_hours_to_deliver
from totals as t
inner join stores as s on s.store_id = t.store_id
left join p50_ship as ps
    on ps.store_id = t.store_id and ps.week_start = t.week_start
    and (ps.carrier = t.carrier or (ps.carrier is null and t.carrier is null))
left join p50_deliver as pd
    on pd.store_id = t.store_id and pd.week_start = t.week_start
    and (pd.carrier = t.carrier or (pd.carrier is null and t.carrier is null))
