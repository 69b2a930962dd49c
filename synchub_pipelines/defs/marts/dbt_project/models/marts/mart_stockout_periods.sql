{#-
  Stock-outs per tenant × SKU, one row per period, from stock_snapshots history.

  Snapshots come in rounds (the listings refresh snapshots every store once an hour, one
  store after another): a round is a UTC hour, and a listing counts with its latest
  snapshot of the round. A SKU is out of stock in a round when none of its listings (on any
  store of its tenant) offered a unit, each listing counted at its latest snapshot so far
  (a listing not snapshotted in a round keeps its last state). The period began in the
  first round that saw it so (`started_at`: the round's first snapshot of the SKU) and ended
  in the first later round in which some listing offered a unit again (NULL while it
  lasts); the real moments lie up to a round before each. Only snapshots up to the as-of
  instant count (var `as_of`, default the build's clock).
-#}
with snapshots as (
    select
        tenant,
        sku,
        store_id,
        listing_id,
        variation_id,
        snapshot_at,
        {{ epoch('snapshot_at') }} as snapshot_epoch,
        {{ epoch_bucket('snapshot_at', 3600) }} as round_no,
        in_stock
    from {{ ref('int_snapshot_skus') }}
    -- history as it stood at the as-of instant (a replayed day sees no later snapshot)
    where {{ epoch('snapshot_at') }} <= {{ as_of_epoch() }}
),

latest_in_round as (
    select
        s.*,
        row_number() over (
            partition by store_id, listing_id, variation_id, round_no
            order by snapshot_epoch desc
        ) as rn
    from snapshots as s
),

listing_changes as (
    -- +1 when a listing starts offering units, -1 when it stops, 0 otherwise
    select
        tenant,
        sku,
        round_no,
        in_stock - coalesce(
            lag(in_stock) over (
                partition by store_id, listing_id, variation_id order by round_no
            ),
            0
        ) as change
    from latest_in_round
    where rn = 1
),

round_firsts as (
    -- each round's first snapshot of the SKU: the instant a period is dated by
    select tenant, sku, round_no, snapshot_at, snapshot_epoch
    from (
        select
            s.*,
            row_number() over (
                partition by tenant, sku, round_no order by snapshot_epoch
            ) as rn
        from snapshots as s
    ) as ranked
    where rn = 1
),

states as (
    select
        tenant,
        sku,
        round_no,
        sum(sum(change)) over (
            partition by tenant, sku order by round_no
            rows between unbounded preceding and current row
        ) as listings_in_stock
    from listing_changes
    group by tenant, sku, round_no
),

flagged as (
    select
        tenant,
        sku,
        round_no,
        case when listings_in_stock = 0 then 1 else 0 end as is_out,
        lag(case when listings_in_stock = 0 then 1 else 0 end) over (
            partition by tenant, sku order by round_no
        ) as was_out
    from states
),

grouped as (
    select
        f.*,
        sum(case when is_out = 1 and coalesce(was_out, 0) = 0 then 1 else 0 end) over (
            partition by tenant, sku order by round_no
            rows between unbounded preceding and current row
        ) as period_no,
        min(case when is_out = 0 then round_no end) over (
            partition by tenant, sku order by round_no
            rows between current row and unbounded following
        ) as next_in_stock_round
    from flagged as f
),

periods as (
    select
        tenant,
        sku,
        period_no,
        min(round_no) as started_round,
        max(next_in_stock_round) as ended_round,
        count(*) as rounds_out
    from grouped
    where is_out = 1
    group by tenant, sku, period_no
)

select
    p.tenant,
    p.sku,
    p.period_no,
    started.snapshot_at as started_at,
    ended.snapshot_at as ended_at,
    case when p.ended_round is null then true else false end as is_ongoing,
    {{ round_to(
        '(coalesce(ended.snapshot_epoch, ' ~ as_of_epoch() ~ ') - started.snapshot_epoch)'
        ~ ' / 3600.0', 2) }} as hours_out,
    p.rounds_out
from periods as p
inner join round_firsts as started
    on started.tenant = p.tenant and started.sku = p.sku and started.round_no = p.started_round
left join round_firsts as ended
    on ended.tenant = p.tenant and ended.sku = p.sku and ended.round_no = p.ended_round
