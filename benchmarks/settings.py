"""Settings of the benchmark stack: the product's own settings (production, from the environment) plus the
benchmarks' URLconf, which adds the bare reference endpoint beside the product's routes, and a per-run key
prefix on the Celery broker so two benchmark runs can share one Redis database (benchmarks/stack.py)."""

import os

from config.settings import *  # noqa: F403
from config.settings import CELERY_BROKER_TRANSPORT_OPTIONS

ROOT_URLCONF = "benchmarks.bench_urls"
if os.environ.get("BENCH_BROKER_PREFIX"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS,
                                       "global_keyprefix": os.environ["BENCH_BROKER_PREFIX"]}
