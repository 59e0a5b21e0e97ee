"""Test settings: the production stack for real (PostgreSQL, Redis), made fast where it is safe."""

import os

os.environ.setdefault("DJANGO_ENV", "test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/recado")
# A drain called in a test returns as soon as nothing is left; the linger has its own tests
# (tests/instances/test_inbound_drain.py, tests/messaging/test_outbound_drain.py).
os.environ.setdefault("INBOUND_DRAIN_LINGER_MS", "0")
os.environ.setdefault("OUTBOUND_DRAIN_LINGER_MS", "0")
# Production pools its connections (DATABASE_POOL) and so prepares hot statements; the tests, with a connection
# per test, prepare them too, so every query runs as production runs it.
os.environ.setdefault("DATABASE_PREPARE_THRESHOLD", "5")



def redis_url_for(worker: str) -> str:
    """Each pytest-xdist worker gets its own Redis database, so one worker flushing its cache, channel
    layer or broker never touches another's ("master" is a run without xdist). RECADO_TEST_REDIS_BASE
    moves the whole block so two suites can run side by side on one Redis."""
    base = int(os.environ.get("RECADO_TEST_REDIS_BASE", "8"))
    number = base if worker == "master" else base + 1 + int(worker.removeprefix("gw") or 0) % 3
    return f"redis://{os.environ.get('RECADO_TEST_REDIS_HOST', '127.0.0.1:6379')}/{number}"


def redis_settings(worker: str) -> dict:
    """The Redis-backed settings of one test worker (tests/conftest.py applies them per xdist worker:
    this module is imported before xdist names the worker). The channel layer is production's, on this
    worker's Redis: its pub/sub channels are server-wide, so its prefix carries the database number too
    (two suites side by side, RECADO_TEST_REDIS_BASE, use the same worker names)."""
    from config.settings import CACHES as production_caches
    from config.settings import CHANNEL_LAYERS as production_layers

    url = redis_url_for(worker)
    prefix = f"recado-test-{worker}"
    layer = production_layers["default"]
    hosts = [{**host, "address": url} for host in layer["CONFIG"]["hosts"]]
    return {
        "REDIS_URL": url,
        "CACHES": {"default": {**production_caches["default"], "LOCATION": url, "KEY_PREFIX": prefix}},
        "CHANNEL_LAYERS": {"default": {**layer, "CONFIG": {
            **layer["CONFIG"], "hosts": hosts, "prefix": f"recado-test-db{url.rsplit('/', 1)[1]}-{worker}."}}},
        "CELERY_BROKER_URL": url,
    }


_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "master")
os.environ["REDIS_URL"] = redis_url_for(_WORKER)

from config.settings import *  # noqa: E402,F403
from config.settings import DATABASES, REST_FRAMEWORK  # noqa: E402

_REDIS = redis_settings(_WORKER)

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
DATABASES["default"]["CONN_MAX_AGE"] = 0
REDIS_URL = _REDIS["REDIS_URL"]
CACHES = _REDIS["CACHES"]
CHANNEL_LAYERS = _REDIS["CHANNEL_LAYERS"]
CELERY_BROKER_URL = _REDIS["CELERY_BROKER_URL"]
# RECADO_TEST_API_RATE_LIMIT: the Schemathesis sweep (tests/api) sends far more than 1000 requests a minute.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
    "api_key": os.environ.get("RECADO_TEST_API_RATE_LIMIT", "1000/min")}}
AXES_FAILURE_LIMIT = 3
WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True  # receivers in the tests listen on 127.0.0.1; SSRF tests turn it off
# Templates used only by tests (e.g. a minimal fragment for the realtime tests).
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "tests" / "templates"]  # noqa: F405
