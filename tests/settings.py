"""Test settings: the production stack for real (PostgreSQL, Redis), made fast where it is safe."""

import os

os.environ.setdefault("DJANGO_ENV", "test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/recado")

# Each pytest-xdist worker gets its own Redis database, so one worker flushing its cache
# or channel layer never touches another's. "master" is a run without xdist.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "master")
# RECADO_TEST_REDIS_BASE moves the whole block (e.g. to 0 or 4) so two suites can run side by side.
_REDIS_BASE = int(os.environ.get("RECADO_TEST_REDIS_BASE", "8"))
_REDIS_DB = _REDIS_BASE if _WORKER == "master" else _REDIS_BASE + 1 + int(_WORKER.removeprefix("gw") or 0) % 3
os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:6379/{_REDIS_DB}")

from config.settings import *  # noqa: E402,F403
from config.settings import DATABASES, REST_FRAMEWORK  # noqa: E402

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
DATABASES["default"]["CONN_MAX_AGE"] = 0
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
        "KEY_PREFIX": f"recado-test-{_WORKER}",
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [os.environ["REDIS_URL"]], "prefix": f"recado-test-{_WORKER}"},
    }
}
CELERY_BROKER_URL = os.environ["REDIS_URL"]
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "1000/min"}}
AXES_FAILURE_LIMIT = 3
# Templates used only by tests (e.g. a minimal fragment for the realtime tests).
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "tests" / "templates"]  # noqa: F405
