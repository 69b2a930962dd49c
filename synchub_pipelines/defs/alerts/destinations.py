"""Where alerts go: any webhook URL (a JSON POST), or Slack through dagster-slack."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

import dagster as dg
import httpx
from dagster_slack import SlackResource
from pydantic import Field


@dataclass(frozen=True)
class Alert:
    alert_id: str
    kind: str  # run_failure | check_failed
    severity: str  # error | warn
    subject: str
    message: str
    occurred_at: datetime
    run_id: str | None = None
    link: str | None = None

    def as_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["occurred_at"] = self.occurred_at.isoformat()
        body["source"] = "synchub-pipelines"
        return body

    def as_text(self) -> str:
        where = f" (run {self.run_id})" if self.run_id else ""
        return f"[{self.severity.upper()}] {self.kind} — {self.subject}{where}: {self.message}"


class Destination(Protocol):
    @property
    def name(self) -> str: ...

    def send(self, alert: Alert) -> None: ...


@dataclass(frozen=True)
class WebhookDestination:
    url: str
    timeout_seconds: float = 10.0
    name: str = "webhook"

    def send(self, alert: Alert) -> None:
        response = httpx.post(self.url, json=alert.as_json(), timeout=self.timeout_seconds)
        if response.status_code >= 300:
            # The URL may carry a token: name the host only.
            host = httpx.URL(self.url).host
            raise RuntimeError(f"alert webhook at {host} answered HTTP {response.status_code}")


@dataclass(frozen=True)
class SlackDestination:
    slack: SlackResource
    channel: str
    name: str = "slack"

    def send(self, alert: Alert) -> None:
        self.slack.get_client().chat_postMessage(channel=self.channel, text=alert.as_text())


class AlertsResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where run failures and failing checks are sent (none configured: recorded only)."""

    webhook_url: str = Field(
        default="", description="Any URL that takes a JSON POST (SYNCHUB_ALERT_WEBHOOK_URL)"
    )
    slack_token: str = Field(default="", description="Slack bot token (SYNCHUB_SLACK_TOKEN)")
    slack_channel: str = Field(default="", description="Slack channel (SYNCHUB_SLACK_CHANNEL)")
    min_severity: str = Field(
        default="warn", description="warn: warnings and errors; error: errors only"
    )

    def destinations(self) -> list[Destination]:
        found: list[Destination] = []
        if self.webhook_url:
            found.append(WebhookDestination(self.webhook_url))
        if self.slack_token and self.slack_channel:
            found.append(
                SlackDestination(SlackResource(token=self.slack_token), self.slack_channel)
            )
        return found

    def wants(self, severity: str) -> bool:
        return self.min_severity != "error" or severity == "error"
