"""The enrichment domain's Dagster definitions, merged into the code location.

`enrichment_job` runs for one site partition: the targets, the site's crawl, then the
matches, suggestions and price positions (recomputed whole). `scrape_schedule` ticks every
15 minutes and starts it for each site whose own cron (`schedule` in the targets file)
fired since the previous tick — daily by default; `synchub scrape run` runs the same job
on demand. `scrape_sites_sensor` keeps one partition per site of the file.
"""

import os
from datetime import timedelta

import dagster as dg

from synchub_pipelines.defs.enrichment.assets import (
    GROUP,
    SCRAPE_SITES,
    ScrapingResource,
    competitor_pages,
    enrichment_suggestions_asset,
    offer_matches_asset,
    price_positions_asset,
    scrape_sites,
    scrape_targets_asset,
    sync_site_partitions,
)
from synchub_pipelines.defs.enrichment.checks import extraction_rate
from synchub_pipelines.defs.enrichment.cron import TICK_MINUTES, CronError, fired_between

enrichment_job = dg.define_asset_job(
    "enrichment_job",
    selection=dg.AssetSelection.groups(GROUP),
    description=(
        "Collect one competitor site (partition) and recompute matches, suggestions and "
        "price positions."
    ),
    tags={"synchub/domain": "enrichment"},
)


def _targets(scraping: ScrapingResource) -> list[object] | str:
    from synchub_pipelines.scraping.targets import TargetsError, load_targets

    try:
        return list(load_targets(scraping.targets_file or None))
    except TargetsError as exc:
        return str(exc)


@dg.schedule(
    name="scrape_schedule",
    cron_schedule=f"*/{TICK_MINUTES} * * * *",
    job=enrichment_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "Every 15 minutes: collect each site whose own cron (targets file `schedule`, UTC; "
        "daily at 04:00 by default) fired since the previous tick."
    ),
)
def scrape_schedule(
    context: dg.ScheduleEvaluationContext, scraping: ScrapingResource
) -> dg.SkipReason | list[dg.RunRequest]:
    if not (scraping.targets_file or os.environ.get("SYNCHUB_SCRAPE_TARGETS", "").strip()):
        # The packaged file lists the sandbox shops: crawling them unattended on a real
        # deployment would only fail, so the schedule waits for the merchant's own file.
        return dg.SkipReason(
            "no targets file configured (SYNCHUB_SCRAPE_TARGETS); the packaged one lists "
            "the sandbox shops, which `synchub scrape run` and the demo use"
        )
    targets = _targets(scraping)
    if isinstance(targets, str):
        return dg.SkipReason(f"targets file unusable: {targets}")
    until = context.scheduled_execution_time
    after = until - timedelta(minutes=TICK_MINUTES)
    due: list[str] = []
    for target in targets:
        site, schedule = target.site, target.schedule  # type: ignore[attr-defined]
        try:
            fired = fired_between(schedule, after, until)
        except CronError as exc:
            context.log.warning(f"site {site}: {exc}")
            continue
        if fired is not None:
            due.append(site)
    if not due:
        return dg.SkipReason(f"no site's schedule fired between {after:%H:%M} and {until:%H:%M}")
    sync_site_partitions(context.instance, due)
    return [
        dg.RunRequest(
            run_key=f"{site}:{until:%Y-%m-%dT%H:%M}",
            partition_key=site,
            tags={"synchub/scrape_site": site},
        )
        for site in due
    ]


@dg.sensor(
    name="scrape_sites_sensor",
    minimum_interval_seconds=300,
    description="Adds a `scrape_sites` partition for every site of the targets file.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def scrape_sites_sensor(
    context: dg.SensorEvaluationContext, scraping: ScrapingResource
) -> dg.SensorResult | dg.SkipReason:
    targets = _targets(scraping)
    if isinstance(targets, str):
        return dg.SkipReason(f"targets file unusable: {targets}")
    sites = [t.site for t in targets]  # type: ignore[attr-defined]
    existing = set(context.instance.get_dynamic_partitions(SCRAPE_SITES))
    missing = [s for s in sites if s not in existing]
    if not missing:
        return dg.SkipReason(f"all {len(sites)} sites have a partition")
    return dg.SensorResult(dynamic_partitions_requests=[scrape_sites.build_add_request(missing)])


defs = dg.Definitions(
    assets=[
        scrape_targets_asset,
        competitor_pages,
        offer_matches_asset,
        enrichment_suggestions_asset,
        price_positions_asset,
    ],
    asset_checks=[extraction_rate],
    jobs=[enrichment_job],
    schedules=[scrape_schedule],
    sensors=[scrape_sites_sensor],
    resources={"scraping": ScrapingResource()},
)
