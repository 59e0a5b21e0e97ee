"""One Redis client per process for our own keys (outside the cache and channel layer), and Lua scripts on it.

redis-py's client is thread-safe and its pool notices a fork (Celery's prefork children), so one per process
serves every thread. Keys go under the cache's KEY_PREFIX, so test workers and benchmark runs stay apart.
"""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings


@cache
def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@cache
def script(source: str):
    """A registered Lua script (EVALSHA, falling back to EVAL once after a Redis restart)."""
    return client().register_script(source)


def key(name: str) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', 'recado')}:{name}"
