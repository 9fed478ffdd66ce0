"""The expected date of a case, from this office's own recent cases (``engine.step_timings``).

For a running case: the median time of each step it has not passed yet (the steps that at
least half of the recently handed-over cards went through, in their usual order; the regency's
turnaround from "sent" to "card returned" is one of them), added to the time of its last
step.  A step already taking longer than usual counts from now on, so the date never lies in
the past.  With fewer than ``MIN_CASES`` handed-over cards in the window there is no estimate,
and the page says so rather than guessing.

The timings are cached per office and procedure for ``socialization_stats_seconds`` (a node
setting, 300 s by default): the public pages must stay cheap however often they are opened.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from simpul.engine import step_timings

from .status import HANDOVER_STEP, done_steps

WINDOW_DAYS = 90
MIN_CASES = 3
SAMPLE_LIMIT = 500
REGENCY_STEP = "card_printed"

_cache: dict = {}
_cache_lock = threading.Lock()


def timings(runtime, office_code: str, process_key: str) -> dict:
    ttl = float(runtime.setting("socialization_stats_seconds", 300) or 0)
    key = (id(runtime), office_code, process_key)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit and ttl > 0 and now - hit[0] < ttl:
            return hit[1]
    result = step_timings(
        runtime, office_code, process_key, days=WINDOW_DAYS, limit=SAMPLE_LIMIT, final_step=HANDOVER_STEP
    )
    with _cache_lock:
        _cache[key] = (now, result)
    return result


def _days(seconds: float | None) -> int | None:
    return None if seconds is None else max(1, math.ceil(seconds / 86400))


def basis(stats: dict) -> dict:
    regency = next((s for s in stats["steps"] if s["step"] == REGENCY_STEP), None)
    return {
        "cases": stats["cases"],
        "days": stats["days"],
        "typical_days": _days(stats["total_median_seconds"]) if stats["cases"] >= MIN_CASES else None,
        "regency_days": _days(regency["median_seconds"]) if regency and stats["cases"] >= MIN_CASES else None,
    }


def _parse(at: str) -> datetime:
    return datetime.fromisoformat(at)


def expected_date(runtime, case: dict, stage: str, now: datetime | None = None) -> dict:
    """``{"date": date | None, "basis": {...}}`` for a case as ``engine.get_case`` returns it."""
    stats = timings(runtime, case["office"], case["process"])
    result = {"date": None, "basis": basis(stats)}
    if stage in ("handed_over", "closed") or stats["cases"] < MIN_CASES:
        return result
    now = now or datetime.now().astimezone()
    usual = [s for s in stats["steps"] if s["count"] * 2 >= stats["cases"]]
    passed = done_steps(case)
    done = {step for step, _at in passed}
    remaining = [s["median_seconds"] for s in usual if s["step"] not in done]
    last = _parse(passed[-1][1]) if passed else _parse(case["created_at"])
    total = sum(remaining)
    rest = total - (remaining[0] if remaining else 0)
    when = max(last + timedelta(seconds=total), now + timedelta(seconds=rest))
    result["date"] = when.astimezone(ZoneInfo(runtime.config.timezone)).date()
    return result
