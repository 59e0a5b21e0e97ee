"""Token buckets in Redis, taken atomically by a Lua script: one bucket shared by every process and thread.

Used for the per-instance send throttle (messaging/throttle.py) and the per-key API rate limit
(tenants/authentication.py). A bucket holds up to `capacity` tokens and refills at `per_second`; taking is
one round trip and never a read-modify-write race between processes. Redis's own clock is used (TIME inside
the script), so hosts with skewed clocks still agree.
"""

from __future__ import annotations

from tenants import redis_scripts

# KEYS[1]: the bucket; ARGV[1]: tokens per millisecond; ARGV[2]: capacity; ARGV[3]: tokens wanted (up to);
# ARGV[4]: tokens given back first (taken earlier and not used); ARGV[5]: '1' for all of them or none. Returns
# {granted, milliseconds until one more token (all of them, when all or none) will be there (0 when granted)}.
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
if ARGV[5] == '1' and granted < wanted then
  granted = 0
  wait = math.ceil((wanted - tokens) / rate)
elseif granted < 1 and wanted > 0 then
  wait = math.ceil((1 - tokens) / rate)
end
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate) + 1000)
return {granted, wait}
"""



def take(key: str, *, per_second: float, capacity: int, wanted: int = 1, give_back: int = 0,
         all_or_none: bool = False) -> tuple[int, float]:
    """Take up to `wanted` tokens from the bucket at `key` (after returning `give_back` unused ones): how many
    were granted, and when none was, the seconds until one will be. `all_or_none`: `wanted` tokens or none (the
    wait is then until all of them are there; never more than `capacity` are asked for)."""
    if all_or_none:
        wanted = min(wanted, capacity)
    granted, wait_ms = redis_scripts.script(_TAKE)(keys=[key], args=[per_second / 1000, capacity, wanted, give_back,
                                                                     "1" if all_or_none else "0"])
    return int(granted), int(wait_ms) / 1000
