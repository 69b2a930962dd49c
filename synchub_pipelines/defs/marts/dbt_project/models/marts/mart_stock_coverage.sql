{#-
  Stock coverage per tenant × SKU of the central catalog: what may be offered now, how fast
  it sells, how many days that lasts, and its stock-outs (mart_stockout_periods).

  Sales rates count the units of sales (orders paid, shipped, delivered or returned) created
  in the 7 × 24 and 30 × 24 hours before the as-of instant (var `as_of`, default the
  build's clock), on every store of the tenant. Days of cover = allocatable ÷ units per day,
  NULL when nothing sold in the window (no rate to run out at).
-#}
with products as (
    select tenant, sku, name, is_kit from {{ source('warehouse', 'central_products') }}
),

stock as (
    select tenant, sku, on_hand, reserved, allocatable, computed_at
    from {{ source('warehouse', 'allocatable_stock') }}
),

sold as (
    select
        tenant,
        sku,
        sum(case when created_epoch > {{ as_of_epoch() }} - 7 * 86400 then quantity else 0 end)
            as units_7d,
        sum(quantity) as units_30d
    from (
        select tenant, sku, quantity, {{ epoch('created_at') }} as created_epoch
        from {{ ref('int_order_lines') }}
        where status in {{ sold_statuses() }} and sku is not null
    ) as lines
    where created_epoch > {{ as_of_epoch() }} - 30 * 86400
        and created_epoch <= {{ as_of_epoch() }}
    group by tenant, sku
),

latest_snapshots as (
    select tenant, sku, in_stock
    from (
        select
            tenant,
            sku,
            in_stock,
            row_number() over (
                partition by store_id, listing_id, variation_id
                order by {{ epoch('snapshot_at') }} desc
            ) as rn
        from {{ ref('int_snapshot_skus') }}
        where {{ epoch('snapshot_at') }} <= {{ as_of_epoch() }}
    ) as ranked
    where rn = 1
),

listings_now as (
    select tenant, sku, count(*) as listings_snapshotted, sum(in_stock) as listings_in_stock
    from latest_snapshots
    group by tenant, sku
),

stockouts as (
    select
        tenant,
        sku,
        count(*) as stockouts,
        max(case when is_ongoing then 1 else 0 end) as out_now,
        max(started_at) as last_stockout_started_at
    from {{ ref('mart_stockout_periods') }}
    group by tenant, sku
),

last_period as (
    select p.tenant, p.sku, p.ended_at
    from {{ ref('mart_stockout_periods') }} as p
    inner join stockouts as s
        on s.tenant = p.tenant and s.sku = p.sku and s.last_stockout_started_at = p.started_at
),

rates as (
    select
        p.tenant,
        p.sku,
        p.name,
        p.is_kit,
        st.on_hand,
        st.reserved,
        st.allocatable,
        st.computed_at,
        coalesce(so.units_7d, 0) as units_sold_7d,
        coalesce(so.units_30d, 0) as units_sold_30d,
        coalesce(so.units_7d, 0) / 7.0 as units_per_day_7d,
        coalesce(so.units_30d, 0) / 30.0 as units_per_day_30d
    from products as p
    left join stock as st on st.tenant = p.tenant and st.sku = p.sku
    left join sold as so on so.tenant = p.tenant and so.sku = p.sku
)

select
    r.tenant,
    r.sku,
    r.name as product_name,
    r.is_kit,
    r.on_hand,
    r.reserved,
    r.allocatable,
    r.computed_at as allocatable_computed_at,
    r.units_sold_7d,
    r.units_sold_30d,
    {{ round_to('r.units_per_day_7d', 3) }} as units_per_day_7d,
    {{ round_to('r.units_per_day_30d', 3) }} as units_per_day_30d,
    {{ round_to('r.allocatable / nullif(r.units_per_day_7d, 0)', 1) }} as days_of_cover_7d,
    {{ round_to('r.allocatable / nullif(r.units_per_day_30d, 0)', 1) }} as days_of_cover_30d,
    coalesce(ln.listings_snapshotted, 0) as listings_snapshotted,
    coalesce(ln.listings_in_stock, 0) as listings_in_stock,
    case when coalesce(so.out_now, 0) = 1 then true else false end as is_out_of_stock,
    coalesce(so.stockouts, 0) as stockouts,
    so.last_stockout_started_at,
    lp.ended_at as last_stockout_ended_at,
    {{ as_of_timestamp() }} as as_of
from rates as r
left join listings_now as ln on ln.tenant = r.tenant and ln.sku = r.sku
left join stockouts as so on so.tenant = r.tenant and so.sku = r.sku
left join last_period as lp on lp.tenant = r.tenant and lp.sku = r.sku
