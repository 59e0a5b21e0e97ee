"""Per-instance send throttle: one token bucket per instance in Redis, shared by every worker (STYLE rule 30).

The bucket refills at MESSAGING_SEND_RATE_PER_MINUTE and holds a few seconds' worth of tokens, so a bulk
API client cannot burst a number into a ban. Redis's own clock is used (TIME inside the script), so
workers on hosts with skewed clocks still agree.
"""

from __future__ import annotations

from django.conf import settings

from tenants import redis_scripts

# KEYS[1]: the bucket; ARGV[1]: tokens per millisecond; ARGV[2]: capacity.
# Returns 0 when a token was taken, else the milliseconds until one will be available.
_TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate) + 1000)
return wait
"""


def rate_per_minute() -> int:
    return max(1, int(getattr(settings, "MESSAGING_SEND_RATE_PER_MINUTE", 60)))


def capacity(rate: int) -> int:
    """A burst of about five seconds' worth of sends (at least one)."""
    return max(1, rate // 12)


def bucket_key(instance_id: int) -> str:
    return redis_scripts.key(f"send-throttle:instance:{instance_id}")


def take(instance_id: int) -> float:
    """Take one send token for this instance: 0 when granted, else the seconds to wait before asking again."""
    rate = rate_per_minute()
    wait_ms = redis_scripts.script(_TAKE)(keys=[bucket_key(instance_id)], args=[rate / 60000, capacity(rate)])
    return int(wait_ms) / 1000
