"""One Redis connection pool per process for Django's cache, whatever the request.

Under ASGI every request runs in a context (and a thread) of its own, Django's cache handler keeps one cache
object per context, and `RedisCache` keeps its connection pool on that object: each request that touched the
cache (the API's throttles, the login lockout, rate limits) opened a new TCP connection to Redis and left it to
the garbage collector. `CACHES["default"]["OPTIONS"]["pool_class"]` names this class: it hands every cache
object the same pool for the same URL and options. redis-py's pools are thread-safe and start afresh in a
forked child (Celery's prefork workers).
"""

from __future__ import annotations

import threading
from typing import Any

import redis


class SharedConnectionPool(redis.ConnectionPool):
    _shared: dict[tuple[str, str], redis.ConnectionPool] = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> redis.ConnectionPool:
        key = (url, repr(sorted(kwargs.items())))
        with cls._lock:
            pool = cls._shared.get(key)
            if pool is None:
                pool = cls._shared[key] = super().from_url(url, **kwargs)
            return pool
