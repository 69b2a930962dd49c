{#-
  The health of every listing variation (store × listing × variation): linked to a SKU or
  not, ready to be listed on its marketplace or missing required attributes
  (listing_readiness of the SKU on that marketplace), its status with the marketplace's
  reason when it is not active, and its price against the same SKU's price on the other
  channels (listings of the tenant's stores that are not closed or drafts).
-#}
with stores as (
    select store_id, marketplace, tenant from {{ source('warehouse', 'stores') }}
),

listings as (
    select
        l.store_id,
        s.marketplace,
        s.tenant,
        l.listing_id,
        l.variation_id,
        l.title,
        l.seller_sku,
        ll.sku,
        ll.method as link_method,
        l.status,
        l.raw_status,
        l.status_reason,
        l.price,
        l.currency,
        l.available_quantity
    from {{ source('warehouse', 'listings') }} as l
    inner join stores as s on s.store_id = l.store_id
    left join {{ source('warehouse', 'listing_links') }} as ll
        on ll.store_id = l.store_id
        and ll.listing_id = l.listing_id
        and ll.variation_id = l.variation_id
),

sku_prices as (
    select
        tenant,
        sku,
        currency,
        count(distinct store_id) as sku_channels,
        min(price) as sku_min_price,
        max(price) as sku_max_price
    from listings
    where sku is not null and price is not null and status not in ('closed', 'draft')
    group by tenant, sku, currency
),

readiness as (
    select
        tenant,
        sku,
        marketplace,
        ready,
        missing,
        invalid,
        {{ json_length('missing') }} as missing_count,
        {{ json_length('invalid') }} as invalid_count
    from {{ source('warehouse', 'listing_readiness') }}
)

select
    l.store_id,
    l.marketplace,
    l.tenant,
    l.listing_id,
    l.variation_id,
    l.title,
    l.seller_sku,
    l.sku,
    l.link_method,
    case when l.sku is null then true else false end as is_unlinked,
    l.status,
    l.raw_status,
    l.status_reason,
    case when l.status = 'suppressed' then true else false end as is_suppressed,
    case when l.status = 'paused' then true else false end as is_paused,
    case when r.sku is not null then true else false end as readiness_checked,
    case when r.sku is not null and not r.ready then true else false end as is_not_ready,
    r.missing as missing_attributes,
    coalesce(r.missing_count, 0) as missing_attribute_count,
    r.invalid as invalid_attributes,
    coalesce(r.invalid_count, 0) as invalid_attribute_count,
    l.available_quantity,
    l.price,
    l.currency,
    coalesce(p.sku_channels, 0) as sku_channels,
    {{ as_money('p.sku_min_price') }} as sku_min_price,
    {{ as_money('p.sku_max_price') }} as sku_max_price,
    {{ as_money('p.sku_max_price - p.sku_min_price') }} as price_spread,
    {{ ratio('p.sku_max_price - p.sku_min_price', 'p.sku_min_price') }} as price_spread_share,
    {{ ratio('l.price - p.sku_min_price', 'p.sku_min_price') }} as price_above_min_share,
    case
        when l.sku is null
            or l.status in ('suppressed', 'paused', 'under_review')
            or (r.sku is not null and not r.ready)
            then true
        else false
    end as needs_attention
from listings as l
left join sku_prices as p on p.tenant = l.tenant and p.sku = l.sku and p.currency = l.currency
left join readiness as r
    on r.tenant = l.tenant and r.sku = l.sku and r.marketplace = l.marketplace
