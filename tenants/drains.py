"""Drain slots in Redis: at most one running drain per slot, and wake-ups that need no task of their own.

Both drains (instances/inbound.py for stored gateway events, messaging/outbound.py for queued sends) share
this machinery. A slot is a Redis key with a TTL, taken with SET NX by whoever wants the slot's work done:
the one that takes it enqueues the drain's task; one that finds it held leaves a wake-up in the slot's list
instead (the same Lua script, one round trip), which a lingering drain's BLPOP returns at once. A drain that
finds nothing gives its slot back and looks once more before it stops, so no wake-up is lost; a drain that
died holds its slot only until the key's TTL.
"""

from __future__ import annotations

from tenants import redis_scripts

# KEYS[1]: the scope's slot prefix; ARGV[1]: slots; ARGV[2]: TTL in seconds. The first free slot, or -1.
_TAKE_FIRST_FREE = """
for slot = 0, tonumber(ARGV[1]) - 1 do
  if redis.call('SET', KEYS[1] .. slot, '1', 'NX', 'EX', tonumber(ARGV[2])) then
    return slot
  end
end
return -1
"""
# KEYS[1]: a slot's key; KEYS[2]: its wake-up list; ARGV[1]: TTL in seconds. 1 when the slot was free and is
# now taken; else 0, and a wake-up is left for the drain holding it (at most one kept: it only says "look").
_TAKE_OR_WAKE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) then
  redis.call('DEL', KEYS[2])
  return 1
end
redis.call('LPUSH', KEYS[2], '1')
redis.call('LTRIM', KEYS[2], 0, 0)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[1]))
return 0
"""
# A slot's key outlives a drain's run with room to spare; it only matters when a drain died holding it.
SLOT_TTL_SECONDS = 60


class DrainSlots:
    """The slots of one kind of drain (`name`), per scope (a company, an instance: whatever one drain serves)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def prefix(self, scope: str | int) -> str:
        return redis_scripts.key(f"{self.name}:{scope}:")

    def key(self, scope: str | int, slot: int) -> str:
        return f"{self.prefix(scope)}{slot}"

    def take_or_wake(self, scope: str | int, slot: int) -> bool:
        """Take the slot (True: the caller starts its drain), or leave a wake-up for the drain holding it."""
        key = self.key(scope, slot)
        return bool(int(redis_scripts.script(_TAKE_OR_WAKE)(keys=[key, f"{key}:wake"], args=[SLOT_TTL_SECONDS])))

    def take_first_free(self, scope: str | int, slots: int) -> int | None:
        slot = int(redis_scripts.script(_TAKE_FIRST_FREE)(keys=[self.prefix(scope)], args=[slots, SLOT_TTL_SECONDS]))
        return None if slot < 0 else slot

    def hold(self, scope: str | int, slot: int, seconds: float = SLOT_TTL_SECONDS) -> None:
        """Keep holding the slot for `seconds` more (and at least the usual TTL): a drain that chains itself."""
        redis_scripts.client().expire(self.key(scope, slot), max(SLOT_TTL_SECONDS, int(seconds) + SLOT_TTL_SECONDS))

    def release(self, scope: str | int, slot: int) -> None:
        redis_scripts.client().delete(self.key(scope, slot))

    def retake(self, scope: str | int, slot: int) -> bool:
        return bool(redis_scripts.client().set(self.key(scope, slot), "1", nx=True, ex=SLOT_TTL_SECONDS))

    def held(self, scope: str | int, slot: int) -> bool:
        return bool(redis_scripts.client().exists(self.key(scope, slot)))

    def linger(self, scope: str | int, slot: int, seconds: float) -> bool:
        """Wait up to `seconds` for a wake-up left by someone who found this slot held; whether one came."""
        if seconds <= 0:
            return False
        return redis_scripts.client().blpop([f"{self.key(scope, slot)}:wake"], timeout=seconds) is not None
