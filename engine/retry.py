"""When a failed job or outbox message is tried again."""

from __future__ import annotations

import random
from datetime import timedelta


def backoff(base_seconds: float, attempts: int) -> timedelta:
    """Exponential backoff with full jitter, so retries of many jobs do not march in step."""
    # The exponent is capped: outbox messages retry without limit, and 2**1024 overflows a float.
    ceiling = base_seconds * (2 ** min(max(0, attempts - 1), 32))
    return timedelta(seconds=min(ceiling, 3600) * (0.5 + random.random() / 2))
