{#-
  Per business date × store (× currency), every money column of mart_sales_daily adds up
  to the orders' own total to the cent, and units to the lines' quantities: allocation to
  lines loses or invents nothing. Rows returned are the dates and stores that differ, with
  the difference in cents per column.
-#}
{{ config(meta={'dagster': {'ref': {'name': 'mart_sales_daily'}}}) }}

{%- set columns = {
    'items_amount': 'items_amount',
    'discount_amount': 'discount_amount',
    'shipping_paid_by_buyer': 'shipping_paid_by_buyer',
    'tax_amount': 'tax_amount',
    'total_amount': 'gross_amount',
    'fee_amount': 'fee_amount',
    'seller_shipping_cost': 'seller_shipping_cost',
    'refund_amount': 'refund_amount',
    'payout_amount': 'payout_amount',
    'net_revenue': 'net_revenue',
} %}

with orders as (
    select
        o.*,
        case
            when o.fees_final and o.payout_amount is not null then o.payout_amount
            else o.total_amount - coalesce(o.fee_amount, 0) - coalesce(o.seller_shipping_cost, 0)
                - coalesce(o.refund_amount, 0)
        end as net_revenue,
        (select sum(i.quantity) from {{ source('warehouse', 'order_items') }} as i
         where i.store_id = o.store_id and i.order_id = o.order_id) as units
    from {{ source('warehouse', 'orders') }} as o
    where o.status in {{ sold_statuses() }}
),

both_sides as (
    select
        business_date,
        store_id,
        currency,
        coalesce(units, 0) as units
        {%- for order_column in columns %},
        {{ cents(order_column) }} as {{ columns[order_column] }}
        {%- endfor %}
    from orders
    union all
    select
        business_date,
        store_id,
        currency,
        -units
        {%- for order_column in columns %},
        -{{ cents(columns[order_column]) }}
        {%- endfor %}
    from {{ ref('mart_sales_daily') }}
)

select
    business_date,
    store_id,
    currency,
    sum(units) as units_difference
    {%- for order_column in columns %},
    sum({{ columns[order_column] }}) as {{ columns[order_column] }}_cents_difference
    {%- endfor %}
from both_sides
group by business_date, store_id, currency
having sum(units) <> 0
    {%- for order_column in columns %}
    or sum({{ columns[order_column] }}) <> 0
    {%- endfor %}
