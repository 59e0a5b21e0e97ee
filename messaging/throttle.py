"""Per-instance send throttle: one token bucket per instance in Redis, shared by every worker (STYLE rule 30).

The bucket refills at MESSAGING_SEND_RATE_PER_MINUTE and holds a few seconds' worth of tokens, so a bulk
API client cannot burst a number into a ban. Redis's own clock is used (TIME inside the script), so
workers on hosts with skewed clocks still agree.
"""

from __future__ import annotations

from django.conf import settings

from tenants import redis_scripts

# KEYS[1]: the bucket; ARGV[1]: tokens per millisecond; ARGV[2]: capacity; ARGV[3]: tokens wanted (up to);
# ARGV[4]: tokens given back first (taken earlier and not used). Returns {granted, milliseconds until one more
# token will be available (0 when some were granted)}.
_TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate + tonumber(ARGV[4]))
local granted = math.min(wanted, math.floor(tokens))
local wait = 0
tokens = tokens - granted
if granted < 1 and wanted > 0 then
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate) + 1000)
return {granted, wait}
"""


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
    granted, wait_ms = redis_scripts.script(_TAKE)(keys=[bucket_key(instance_id)],
                                                   args=[rate / 60000, capacity(rate), wanted, give_back])
    return int(granted), int(wait_ms) / 1000


def take(instance_id: int) -> float:
    """Take one send token for this instance: 0 when granted, else the seconds to wait before asking again."""
    granted, wait = take_up_to(instance_id, 1)
    return 0.0 if granted else wait


def give_back(instance_id: int, tokens: int) -> None:
    """Return tokens taken and not used (never above the bucket's capacity)."""
    if tokens > 0:
        take_up_to(instance_id, 0, give_back=tokens)
