"""The daily collection: each site when its own cron fires, never without a merchant's file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from synchub_pipelines.defs.enrichment.assets import ScrapingResource
from synchub_pipelines.defs.enrichment.definitions import scrape_schedule

TARGETS = """
[defaults]
page_budget = 10
delay_seconds = 1.0

[[sites]]
site = "early"
start_urls = ["https://early.example/"]
schedule = "0 4 * * *"

[[sites]]
site = "late"
start_urls = ["https://late.example/"]
schedule = "30 22 * * *"
"""


def _tick(resource: ScrapingResource, at: datetime) -> object:
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=at, resources={"scraping": resource}
        )
        return scrape_schedule(context)


@pytest.fixture
def targets(tmp_path: Path) -> Path:
    path = tmp_path / "targets.toml"
    path.write_text(TARGETS, encoding="utf-8")
    return path


def test_only_the_site_whose_cron_fired_is_collected_one_run_per_site(targets: Path) -> None:
    answer = _tick(
        ScrapingResource(targets_file=str(targets)), datetime(2026, 12, 4, 4, 0, tzinfo=UTC)
    )
    assert isinstance(answer, list) and len(answer) == 1
    (request,) = answer
    assert request.partition_key == "early"
    # The instance's tag limit allows one run per site at a time (dagster.yaml).
    assert request.tags["synchub/scrape_site"] == "early"


def test_a_tick_when_no_cron_fired_is_skipped_with_the_window(targets: Path) -> None:
    answer = _tick(
        ScrapingResource(targets_file=str(targets)), datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    )
    assert isinstance(answer, dg.SkipReason)
    assert "11:45" in (answer.skip_message or "") and "12:00" in (answer.skip_message or "")


def test_without_a_configured_targets_file_nothing_is_crawled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SYNCHUB_SCRAPE_TARGETS", raising=False)
    answer = _tick(ScrapingResource(), datetime(2026, 12, 4, 4, 0, tzinfo=UTC))
    assert isinstance(answer, dg.SkipReason)
    assert "SYNCHUB_SCRAPE_TARGETS" in (answer.skip_message or "")
