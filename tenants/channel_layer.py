"""The channel layer: Redis pub/sub, so a group push is one PUBLISH and each process fans it out to its sockets.

channels_redis's list-based layer (`core.RedisChannelLayer`) keeps group members in Redis: each group_send
reads the group's member names (all 100 sockets'), then trims, and ZADDs through a Lua script one entry per
receiving process, listing its channels; each process pops it (BZPOPMIN) while every socket's consumer waits
on the layer's receive lock, two asyncio tasks per socket per message. Its pub/sub layer
(`pubsub.RedisPubSubChannelLayer`) keeps members in process: a group_send is one PUBLISH, and each process,
subscribed once per group it has sockets in, hands the message to those sockets' queues. Measured with
benchmarks/fanout.py (100 sockets, 100 pushes/s): about half the web process's CPU per frame, a third to a
tenth of the publisher's per push, and every frame delivered where the list-based layer fell behind and
dropped some. What the
pub/sub layer keeps from the list-based one, checked against channels-redis 4.3.0 and redis-py 8
(tests/tenants/test_channel_layer.py):

- group_add/group_discard only for channels of this process (every consumer's own channel is);
- a dropped or restarted Redis: redis-py reconnects the subscriber connection and subscribes again to every
  channel it had; what was published meanwhile is lost (a push is a hint, STYLE rule 23);
- pub/sub channels belong to the Redis *server*, not to a database number: the prefix is what keeps two sites
  (or two test runs) sharing a server apart (config/settings.py derives it from REDIS_URL's database).

What it lacks is a bound: each channel's queue is an unbounded asyncio.Queue, so a socket that does not read
(a stalled tab behind a slow link: the consumer waits on its send) would hold every push in memory for as long
as it stays open. The list-based layer capped a channel at 100 messages (in Redis and in its process's
buffer, which dropped the oldest). This subclass gives each channel a mailbox of `capacity` messages that
drops the oldest when full: the newest fragment of a region replaces the older ones anyway, and the page
re-fetches itself after a gap.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from channels_redis.utils import _wrap_close

logger = logging.getLogger(__name__)


class Mailbox(asyncio.Queue):
    """A queue that keeps the newest `capacity` items: a put never blocks and never fails, it drops the oldest."""

    def __init__(self, capacity: int, name: str = "") -> None:
        self.capacity, self.name, self.dropped = capacity, name, 0
        super().__init__()

    def _init(self, maxsize: int) -> None:  # asyncio.Queue's storage hook (as LifoQueue and PriorityQueue use)
        self._queue: deque = deque()

    def _put(self, item) -> None:
        if len(self._queue) >= self.capacity:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1:
                logger.warning("channel %s is not read fast enough: dropping its oldest messages", self.name)
        self._queue.append(item)

    def take_while(self, read, wanted, limit: int) -> list:
        """The items already waiting at the front whose `read` form `wanted` accepts, at most `limit`, taken
        without waiting and returned in their `read` form."""
        taken = []
        while self._queue and len(taken) < limit:
            item = read(self._queue[0])
            if not wanted(item):
                break
            self._queue.popleft()
            taken.append(item)
        return taken


class _LoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, capacity: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.capacity = capacity

    async def _subscribe_to_channel(self, channel: str) -> None:
        self.channels[channel] = Mailbox(self.capacity, channel)
        await self._get_shard(channel).subscribe(channel)


class PubSubChannelLayer(RedisPubSubChannelLayer):
    """RedisPubSubChannelLayer with a bounded mailbox per channel (CONFIG "capacity", default 100)."""

    def __init__(self, *args, capacity: int = 100, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.capacity = capacity

    def _get_layer(self) -> RedisPubSubLoopLayer:
        # The parent's, with our loop layer: one per event loop, flushed when that loop closes.
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = _LoopLayer(*self._args, **self._kwargs, channel_layer=self, capacity=self.capacity)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer

    def receive_waiting(self, channel: str, message_type: str, limit: int) -> list[dict]:
        """The messages of `message_type` already waiting for `channel` in this process, next in line, at most
        `limit`: taken now, without waiting, so a consumer can write several in one go."""
        mailbox = self._get_layer().channels.get(channel)
        if not isinstance(mailbox, Mailbox):
            return []
        return mailbox.take_while(self.deserialize, lambda message: message.get("type") == message_type, limit)

    async def groups_listened(self, groups: Iterable[str]) -> set[str]:
        """The groups that some process has a socket in right now (PUBSUB NUMSUB: one call per shard).

        realtime renders a fragment only for a group someone listens to: most conversations are open in nobody's
        browser, and their bubble was rendered and published for no one. A socket that joins just after the
        answer misses that push, as one that joins just after the PUBLISH always did (its page resyncs)."""
        layer = self._get_layer()
        by_shard: dict = {}
        for group in set(groups):
            channel = layer._get_group_channel_name(group)
            by_shard.setdefault(layer._get_shard(channel), {})[channel] = group
        listened: set[str] = set()
        for shard, channels in by_shard.items():
            async with shard._lock:
                shard._ensure_redis()
                counts = await shard._redis.pubsub_numsub(*channels)
            for name, count in counts:
                if count:
                    listened.add(channels[name.decode() if isinstance(name, bytes) else name])
        return listened
