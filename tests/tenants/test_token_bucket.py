"""tenants/token_bucket.py against the real Redis: atomic across threads (each its own connection from the
pool), refilled by Redis's clock, capped at its capacity, and one bucket per key (the API's per-key budget and
its 429 are tests/tenants/test_api.py's)."""

from __future__ import annotations

import threading
import time

from tenants import redis_scripts, token_bucket


def test_concurrent_takers_never_get_more_than_the_bucket_holds():
    key = redis_scripts.key("test-bucket:concurrent")
    granted: list[int] = []
    lock = threading.Lock()

    def taker() -> None:
        for _ in range(25):
            got, _wait = token_bucket.take(key, per_second=0.001, capacity=10)
            with lock:
                granted.append(got)

    threads = [threading.Thread(target=taker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 100 and sum(granted) == 10  # a read-modify-write would hand out more


def test_a_bucket_refills_gives_back_up_to_its_capacity_and_says_how_long_to_wait():
    key, other = redis_scripts.key("test-bucket:refill"), redis_scripts.key("test-bucket:other")
    assert token_bucket.take(key, per_second=20, capacity=4, wanted=10) == (4, 0)  # all it holds
    granted, wait = token_bucket.take(key, per_second=20, capacity=4)
    assert granted == 0 and 0 < wait <= 0.05  # one token every 50 ms
    assert token_bucket.take(other, per_second=20, capacity=4, wanted=4) == (4, 0)  # another key: its own bucket
    time.sleep(0.12)
    assert token_bucket.take(key, per_second=20, capacity=4, wanted=10)[0] == 2
    token_bucket.take(key, per_second=20, capacity=4, wanted=0, give_back=100)  # never above the capacity
    assert token_bucket.take(key, per_second=20, capacity=4, wanted=10)[0] == 4

