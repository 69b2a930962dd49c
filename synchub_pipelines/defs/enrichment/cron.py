"""Does a site's cron expression fire in a time window? (the per-site schedules)

Each site of the targets file has its own `schedule` (five-field cron, UTC). One Dagster
schedule ticks every `TICK_MINUTES` and starts a run for each site whose expression fired
since the previous tick, so editing the file changes when a site is collected without a
redeploy. Supports what `scraping.targets` accepts: `*`, numbers, ranges, steps, lists and
three-letter month and day names; day-of-month and day-of-week combine as in cron (either
matches when both are restricted).
"""

from __future__ import annotations

from datetime import datetime, timedelta

TICK_MINUTES = 15
_NAMES = {
    **{
        m: i
        for i, m in enumerate(
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
        )
    },
    **{d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
}
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


class CronError(ValueError):
    pass


def _value(text: str) -> int:
    return _NAMES[text.lower()] if text.lower() in _NAMES else int(text)


def _field(text: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise CronError(f"step {step_text!r} must be at least 1")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = _value(a), _value(b)
        else:
            start = _value(base)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high):
            raise CronError(f"{part!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def matcher(expression: str) -> tuple[set[int], ...]:
    fields = expression.split()
    if len(fields) != 5:
        raise CronError(f"{expression!r} is not a 5-field cron expression")
    try:
        parsed = tuple(_field(f, lo, hi) for f, (lo, hi) in zip(fields, _BOUNDS, strict=True))
    except (KeyError, ValueError) as exc:
        raise CronError(f"{expression!r}: {exc}") from None
    weekdays = {d % 7 for d in parsed[4]}  # 7 is Sunday too
    return (
        *parsed[:4],
        weekdays,
        {0} if fields[2] == "*" else set(),
        {0} if fields[4] == "*" else set(),
    )


def fires_at(expression: str, at: datetime) -> bool:
    minutes, hours, days, months, weekdays, dom_any, dow_any = matcher(expression)
    if at.minute not in minutes or at.hour not in hours or at.month not in months:
        return False
    day_ok = at.day in days
    weekday_ok = (at.isoweekday() % 7) in weekdays
    if dom_any and dow_any:
        return True
    if dom_any:
        return weekday_ok
    if dow_any:
        return day_ok
    return day_ok or weekday_ok


def fired_between(expression: str, after: datetime, until: datetime) -> datetime | None:
    """The last minute in (after, until] at which the expression fires, or None."""
    minute = until.replace(second=0, microsecond=0)
    while minute > after:
        if fires_at(expression, minute):
            return minute
        minute -= timedelta(minutes=1)
    return None
