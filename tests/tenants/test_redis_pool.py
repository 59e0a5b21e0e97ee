"""Django's cache shares one Redis connection pool per process across requests (tenants/redis_pool.py)."""

from __future__ import annotations

from django.core.cache import caches

from tenants.redis_pool import SharedConnectionPool


def test_each_request_s_cache_object_uses_the_one_pool():
    """Under ASGI Django makes a cache object per request context (`create_connection`, as the handler does for
    a context that has none): each must use the process's one pool instead of opening connections of its own."""
    objects = [caches.create_connection("default") for _ in range(5)]
    for number, cache in enumerate(objects):
        cache.set(f"pool-test-{number}", f"value {number}", 30)
    assert [cache.get(f"pool-test-{number}") for number, cache in enumerate(objects)] == [
        f"value {number}" for number in range(5)]
    pools = {id(cache._cache._get_connection_pool(write=True)) for cache in objects}
    assert len({id(cache) for cache in objects}) == 5 and len(pools) == 1
    pool = objects[0]._cache._get_connection_pool(write=True)
    assert isinstance(pool, SharedConnectionPool)
    assert len(pool._available_connections) + len(pool._in_use_connections) <= 2  # reused, not one per object


def test_a_different_server_or_database_gets_a_pool_of_its_own():
    first = SharedConnectionPool.from_url("redis://127.0.0.1:6379/14")
    assert SharedConnectionPool.from_url("redis://127.0.0.1:6379/14") is first
    assert SharedConnectionPool.from_url("redis://127.0.0.1:6379/15") is not first
    assert SharedConnectionPool.from_url("redis://127.0.0.1:6379/14", socket_timeout=3) is not first
