"""Settings of the benchmark stack: the product's own settings (production, from the environment) plus the
benchmarks' URLconf, which adds the bare reference endpoint beside the product's routes, and a per-run key
prefix on the Celery broker so two benchmark runs can share one Redis database (benchmarks/stack.py).

BENCH_CHANNEL_LAYER=list runs the stack on channels_redis's list-based layer, the one the product used before
its pub/sub layer (benchmarks/fanout.py compares the two); unset, the product's own layer."""

import os

from config.settings import *  # noqa: F403
from config.settings import CELERY_BROKER_TRANSPORT_OPTIONS, CHANNEL_LAYERS

ROOT_URLCONF = "benchmarks.bench_urls"
if os.environ.get("BENCH_BROKER_PREFIX"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS,
                                       "global_keyprefix": os.environ["BENCH_BROKER_PREFIX"]}

BENCH_CHANNEL_LAYERS = {
    "pubsub": CHANNEL_LAYERS["default"],
    # As config/settings.py had it: a socket timeout longer than the layer's 5 s blocking receive.
    "list": {"BACKEND": "channels_redis.core.RedisChannelLayer",
             "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}],  # noqa: F405
                        "prefix": CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]}},
}
CHANNEL_LAYERS = {"default": BENCH_CHANNEL_LAYERS[os.environ.get("BENCH_CHANNEL_LAYER") or "pubsub"]}
