"""The marts as the dashboard reads them: one pandas frame per mart, typed the same way
whichever warehouse they came from, split per merchant (tenant).

Frames normally come from `defs.marts.exports.read_mart` (typed by the marts' documented
types); `Marts.from_frames` still coerces the columns the page reads (dates, instants,
numbers, booleans), so a frame read some other way, or written by hand in a test, gives the
same page. A mart that is missing, or lacks a column the page reads, raises a clear error
instead of drawing a wrong chart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import pandas as pd

from synchub_pipelines.dashboard.columns import COLUMNS, DEFAULT_TENANT, MART_NAMES

__all__ = ["COLUMNS", "DEFAULT_TENANT", "MART_NAMES", "Marts"]


def _typed(frame: pd.DataFrame, mart: str) -> pd.DataFrame:
    wanted = COLUMNS[mart]
    missing = [c for c in wanted if c not in frame.columns]
    if missing and len(frame.columns):
        raise ValueError(f"{mart} lacks the column(s) the dashboard reads: {', '.join(missing)}")
    frame = frame.copy()
    for column, kind in wanted.items():
        values = frame[column] if column in frame.columns else pd.Series([], dtype=object)
        if kind == "date":
            frame[column] = pd.to_datetime(values.map(_date_text), format="%Y-%m-%d")
        elif kind == "instant":
            stamps = pd.to_datetime(values, utc=True, format="mixed")
            frame[column] = stamps.dt.tz_localize(None)
        elif kind == "number":
            frame[column] = pd.to_numeric(
                values.map(lambda v: None if _blank(v) else float(v)), errors="coerce"
            ).astype(float)
        elif kind == "bool":
            frame[column] = values.map(lambda v: False if _blank(v) else _truth(v)).astype(bool)
        else:
            frame[column] = values.map(lambda v: None if _blank(v) else str(v)).astype(object)
    return frame


def _blank(value: object) -> bool:
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def _truth(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "t", "1", "yes"}
    return bool(value)


def _date_text(value: object) -> str | None:
    return None if _blank(value) else str(value)[:10]


@dataclass(frozen=True)
class Marts:
    """Every mart the page reads, one frame each (named like the mart without `mart_`)."""

    sales_daily: pd.DataFrame
    order_funnel: pd.DataFrame
    stock_coverage: pd.DataFrame
    stockout_periods: pd.DataFrame
    listing_health: pd.DataFrame
    questions_sla: pd.DataFrame
    shipping_sla: pd.DataFrame

    @classmethod
    def from_frames(cls, frames: Mapping[str, pd.DataFrame]) -> Marts:
        """From frames keyed by mart name (`mart_sales_daily`…); a mart not given is empty."""
        unknown = set(frames) - set(MART_NAMES)
        if unknown:
            raise ValueError(f"not marts the dashboard reads: {', '.join(sorted(unknown))}")
        return cls(
            **{
                mart.removeprefix("mart_"): _typed(frames.get(mart, pd.DataFrame()), mart)
                for mart in MART_NAMES
            }
        )

    def frames(self) -> dict[str, pd.DataFrame]:
        return {f"mart_{f.name}": getattr(self, f.name) for f in fields(self)}

    def tenants(self) -> list[str]:
        """Every merchant with a row in a mart, `default` first; `default` alone if none."""
        found: set[str] = set()
        for frame in self.frames().values():
            found.update(t for t in frame["tenant"].dropna().unique())
        others = sorted(found - {DEFAULT_TENANT})
        return [DEFAULT_TENANT, *others] if DEFAULT_TENANT in found or not others else others

    def of_tenant(self, tenant: str) -> Marts:
        return Marts(
            **{
                f.name: getattr(self, f.name)[getattr(self, f.name)["tenant"] == tenant]
                for f in fields(self)
            }
        )
