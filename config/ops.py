"""Health endpoints for load balancers and orchestrators."""

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving requests; checks nothing else."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when the database, Redis (cache and channel layer) and the Celery broker answer; 503 names what is down."""
    checks = {
        "database": _check_database,
        "redis": lambda: _check_redis(settings.REDIS_URL),
        "broker": lambda: _check_redis(settings.CELERY_BROKER_URL),
    }
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as error:  # any failure means "not ready"; the type tells the operator what
            logger.warning("readiness check %s failed: %s", name, type(error).__name__)
            results[name] = f"down: {type(error).__name__}"
    down = [name for name, result in results.items() if result != "ok"]
    body = {"status": "ok" if not down else "unavailable", "checks": results}
    if down:
        body["down"] = down
    return JsonResponse(body, status=503 if down else 200)
