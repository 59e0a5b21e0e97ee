"""Per-instance send throttle: one token bucket per instance in Redis, shared by every worker (STYLE rule 30).

The bucket (tenants/token_bucket.py) refills at MESSAGING_SEND_RATE_PER_MINUTE and holds a few seconds'
worth of tokens, so a bulk API client cannot burst a number into a ban.
"""

from __future__ import annotations

from django.conf import settings

from tenants import redis_scripts, token_bucket


def rate_per_minute() -> int:
    return max(1, int(getattr(settings, "MESSAGING_SEND_RATE_PER_MINUTE", 60)))


def capacity(rate: int) -> int:
    """A burst of about five seconds' worth of sends (at least one)."""
    return max(1, rate // 12)


def bucket_key(instance_id: int) -> str:
    return redis_scripts.key(f"send-throttle:instance:{instance_id}")


def take_up_to(instance_id: int, wanted: int, give_back: int = 0) -> tuple[int, float]:
    """Take up to `wanted` send tokens for this instance (after returning `give_back` unused ones): how many were
    granted, and when none was, the seconds to wait before one will be."""
    rate = rate_per_minute()
    return token_bucket.take(bucket_key(instance_id), per_second=rate / 60, capacity=capacity(rate), wanted=wanted,
                             give_back=give_back)


def take(instance_id: int) -> float:
    """Take one send token for this instance: 0 when granted, else the seconds to wait before asking again."""
    granted, wait = take_up_to(instance_id, 1)
    return 0.0 if granted else wait


def give_back(instance_id: int, tokens: int) -> None:
    """Return tokens taken and not used (never above the bucket's capacity)."""
    if tokens > 0:
        take_up_to(instance_id, 0, give_back=tokens)
