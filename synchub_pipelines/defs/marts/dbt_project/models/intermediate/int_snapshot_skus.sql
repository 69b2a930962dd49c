{#-
  Every stock snapshot of a listing variation, with the SKU it sells (the same rule as
  order lines: its link, else its seller SKU when the tenant's catalog has it) and whether
  it offered any unit at that instant. Snapshots of listings without a SKU are left out.
-#}
with stores as (
    select store_id, tenant from {{ source('warehouse', 'stores') }}
)

select
    s.tenant,
    coalesce(ll.sku, cp.sku) as sku,
    sn.store_id,
    sn.listing_id,
    sn.variation_id,
    sn.snapshot_at,
    sn.available_quantity,
    case when sn.available_quantity > 0 then 1 else 0 end as in_stock
from {{ source('warehouse', 'stock_snapshots') }} as sn
inner join stores as s on s.store_id = sn.store_id
left join {{ source('warehouse', 'listing_links') }} as ll
    on ll.store_id = sn.store_id
    and ll.listing_id = sn.listing_id
    and ll.variation_id = sn.variation_id
left join {{ source('warehouse', 'central_products') }} as cp
    on ll.sku is null
    and cp.tenant = s.tenant
    and cp.sku = sn.seller_sku
where coalesce(ll.sku, cp.sku) is not null
