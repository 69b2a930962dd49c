{#-
  Every line of every order, with its SKU and its share of the order's money.

  SKU of a line: the SKU its listing variation is linked to (listing_links), else the
  line's seller SKU when it is a SKU of the store's tenant's catalog, else none (unlinked).

  Order-level money is allocated to the lines by their share of items_amount (line_amount
  / items_amount), in whole cents, by cumulative rounding: with A the order's amount in
  cents, W the order's line cents and W≤k those of lines 1..k, line k gets
  A × W≤k / W − A × W<k / W (integer divisions, the same on both warehouses), so the
  lines of an order add up to the order's amount exactly, to the cent, and each line is
  within a cent of its exact share. An order
  whose lines are all zero splits evenly; an order without lines keeps its money on one
  line without SKU (check orders_have_items says none should exist).
-#}
with stores as (
    select store_id, marketplace, tenant from {{ source('warehouse', 'stores') }}
),

orders as (
    select
        o.*,
        case
            when o.fees_final and o.payout_amount is not null then o.payout_amount
            else o.total_amount - coalesce(o.fee_amount, 0) - coalesce(o.seller_shipping_cost, 0)
                - coalesce(o.refund_amount, 0)
        end as net_revenue
    from {{ source('warehouse', 'orders') }} as o
),

items as (
    select store_id, order_id, line_no, listing_id, variation_id, seller_sku, quantity, line_amount
    from {{ source('warehouse', 'order_items') }}
),

lines as (
    select store_id, order_id, line_no, listing_id, variation_id, seller_sku, quantity, line_amount
    from items
    union all
    select o.store_id, o.order_id, 0, null, '', null, 0, 0
    from orders as o
    where not exists (
        select 1 from items as i where i.store_id = o.store_id and i.order_id = o.order_id
    )
),

resolved as (
    select
        l.store_id,
        l.order_id,
        l.line_no,
        l.listing_id,
        l.variation_id,
        l.seller_sku,
        l.quantity,
        {{ cents('l.line_amount') }} as line_cents,
        coalesce(ll.sku, cp.sku) as sku,
        case
            when ll.sku is not null then 'link'
            when cp.sku is not null then 'seller_sku'
            else 'unlinked'
        end as sku_source
    from lines as l
    inner join stores as s on s.store_id = l.store_id
    left join {{ source('warehouse', 'listing_links') }} as ll
        on ll.store_id = l.store_id
        and ll.listing_id = l.listing_id
        and ll.variation_id = l.variation_id
    left join {{ source('warehouse', 'central_products') }} as cp
        on ll.sku is null
        and cp.tenant = s.tenant
        and cp.sku = l.seller_sku
),

weighted as (
    select
        r.*,
        case
            when sum(r.line_cents) over (partition by r.store_id, r.order_id) = 0 then 1
            else r.line_cents
        end as weight
    from resolved as r
),

cumulated as (
    select
        w.*,
        cast(sum(w.weight) over (
            partition by w.store_id, w.order_id order by w.line_no
            rows between unbounded preceding and current row
        ) as {{ dbt.type_bigint() }}) as weight_through,
        cast(sum(w.weight) over (partition by w.store_id, w.order_id) as {{ dbt.type_bigint() }})
            as weight_total
    from weighted as w
),

shares as (
    select
        c.store_id,
        c.order_id,
        c.line_no,
        c.listing_id,
        c.variation_id,
        c.seller_sku,
        c.sku,
        c.sku_source,
        c.quantity,
        c.line_cents,
        c.weight_through,
        c.weight_through - c.weight as weight_before,
        c.weight_total
    from cumulated as c
)

select
    sh.store_id,
    s.marketplace,
    s.tenant,
    sh.order_id,
    sh.line_no,
    sh.listing_id,
    sh.variation_id,
    sh.seller_sku,
    sh.sku,
    sh.sku_source,
    o.status,
    o.business_date,
    o.created_at,
    o.currency,
    o.fees_final,
    case when o.fee_amount is not null then 1 else 0 end as fee_known,
    sh.quantity,
    sh.line_cents as items_cents
    {%- for column in [
        'discount_amount', 'shipping_paid_by_buyer', 'tax_amount', 'total_amount',
        'fee_amount', 'seller_shipping_cost', 'refund_amount', 'payout_amount', 'net_revenue',
    ] %},
    ({{ cents('o.' ~ column) }} * sh.weight_through) / sh.weight_total
        - ({{ cents('o.' ~ column) }} * sh.weight_before) / sh.weight_total
        as {{ column | replace('_amount', '') }}_cents
    {%- endfor %}
from shares as sh
inner join orders as o on o.store_id = sh.store_id and o.order_id = sh.order_id
inner join stores as s on s.store_id = sh.store_id
