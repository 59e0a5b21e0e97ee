"""The product's URLs plus the benchmarks' reference endpoint; used only by benchmarks.settings.

`POST /bench/insert/` is the "bare one-insert Django endpoint" the ingest benchmark compares the gateway
hook with: the same server, middleware and body parsing, then one INSERT and a small JSON answer. Its table
is created by the benchmark in its throwaway database (`ensure_reference_table`), never by a migration.
"""

from __future__ import annotations

import hashlib
import json

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.urls import handler404  # noqa: F401 (handler404 is read by Django)
from config.urls import urlpatterns as product_urlpatterns

TABLE = "bench_reference_insert"


def ensure_reference_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, key varchar(64) NOT NULL, "
                       "payload jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())")


@csrf_exempt
@require_POST
def reference_insert(request: HttpRequest) -> JsonResponse:
    try:
        payload = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "a JSON body is required"}, status=400)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} (key, payload) VALUES (%s, %s)",
                       [hashlib.sha256(request.body).hexdigest(), json.dumps(payload)])
    return JsonResponse({"status": "stored"})


urlpatterns = [path("bench/insert/", reference_insert), *product_urlpatterns]
