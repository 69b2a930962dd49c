{#-
  Sales per business date × store × SKU (× currency: one per store in practice).
  A sale is an order that was paid: status paid, shipped, delivered or returned (pending
  and cancelled orders are not sales; mart_order_funnel counts them). Order-level money is
  allocated to lines by their share of items_amount (int_order_lines), so for every
  business date × store the columns add up to the orders' own totals to the cent
  (test mart_sales_daily_reconciles_with_orders).
-#}
-- The settled money on `orders` (fees, payout, fees_final) is written by the facts
-- refresh, which Dagster knows as `order_fees`: the mart follows it too.
-- depends_on: {{ source('warehouse', 'order_fees') }}
with lines as (
    select * from {{ ref('int_order_lines') }}
    where status in {{ sold_statuses() }}
),

per_order as (
    -- one row per order × SKU, so that an order's flags count once per row
    select
        business_date,
        store_id,
        marketplace,
        tenant,
        sku,
        currency,
        order_id,
        max(case when fees_final then 1 else 0 end) as settled,
        max(fee_known) as fee_known,
        count(*) as order_lines,
        sum(quantity) as units,
        sum(items_cents) as items_cents,
        sum(discount_cents) as discount_cents,
        sum(shipping_paid_by_buyer_cents) as shipping_paid_by_buyer_cents,
        sum(tax_cents) as tax_cents,
        sum(total_cents) as total_cents,
        sum(fee_cents) as fee_cents,
        sum(seller_shipping_cost_cents) as seller_shipping_cost_cents,
        sum(refund_cents) as refund_cents,
        sum(payout_cents) as payout_cents,
        sum(net_revenue_cents) as net_revenue_cents
    from lines
    group by business_date, store_id, marketplace, tenant, sku, currency, order_id
)

select
    business_date,
    store_id,
    marketplace,
    tenant,
    sku,
    case when sku is null then true else false end as is_unlinked,
    currency,
    count(*) as orders,
    cast(sum(order_lines) as {{ dbt.type_bigint() }}) as order_lines,
    cast(sum(units) as {{ dbt.type_bigint() }}) as units,
    {{ money('sum(items_cents)') }} as items_amount,
    {{ money('sum(discount_cents)') }} as discount_amount,
    {{ money('sum(shipping_paid_by_buyer_cents)') }} as shipping_paid_by_buyer,
    {{ money('sum(tax_cents)') }} as tax_amount,
    {{ money('sum(total_cents)') }} as gross_amount,
    {{ money('sum(fee_cents)') }} as fee_amount,
    {{ money('sum(seller_shipping_cost_cents)') }} as seller_shipping_cost,
    {{ money('sum(refund_cents)') }} as refund_amount,
    {{ money('sum(payout_cents)') }} as payout_amount,
    {{ money('sum(net_revenue_cents)') }} as net_revenue,
    sum(fee_known) as orders_with_fees,
    sum(settled) as settled_orders,
    case when sum(settled) = count(*) then true else false end as fees_final
from per_order
group by business_date, store_id, marketplace, tenant, sku, currency
