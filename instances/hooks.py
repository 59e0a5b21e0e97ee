"""Inbound gateway webhooks (STYLE rule 31): the URL secret names the instance or server, never the payload.

`/hooks/evolution/<secret>/` is configured on each instance we create; `/hooks/evolution/server/<secret>/`
is the one URL an operator may set as a gateway's global webhook (it routes by the instance name in the
body, inside that server only). Both also accept Evolution's "webhook by events" suffix
(`.../<secret>/messages-upsert`). Each body is stored once and processed by a task; the answer is fast.
"""

from __future__ import annotations

import json

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from instances import services
from instances.gateways.events import canonical_event_name
from instances.models import GatewayServer, Instance
from tenants.models import hash_secret
from tenants.scoping import company_scope


def _payload(request: HttpRequest) -> dict | None:
    try:
        payload = json.loads(request.body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _too_big(request: HttpRequest) -> bool:
    try:
        request.body  # noqa: B018 (reading it is the check)
    except RequestDataTooBig:
        return True
    return False


TOO_BIG = {"error": "the body exceeds DATA_UPLOAD_MAX_MEMORY_SIZE"}


def _store(request: HttpRequest, instance: Instance, payload: dict | None, event_name: str) -> JsonResponse:
    if payload is None:
        return JsonResponse({"error": "a JSON object body is required"}, status=400)
    name = canonical_event_name(payload.get("event") or event_name)
    # The company comes from the instance the secret named; this request has no session or API key,
    # so this is where its company context is opened (and always closed).
    with company_scope(instance.company):
        stored = services.inbound_event_record(
            company=instance.company, instance=instance, body=request.body, payload=payload, event_name=name
        )
    return JsonResponse({"status": "stored" if stored else "duplicate"})


@csrf_exempt
@require_POST
def instance_hook(request: HttpRequest, secret: str, event_name: str = "") -> JsonResponse:
    # all_companies: the secret is the only credential and names exactly one instance of one company.
    instance = Instance.all_companies.filter(webhook_secret_hash=hash_secret(secret)).select_related("company").first()
    if instance is None:
        raise Http404
    if _too_big(request):
        return JsonResponse(TOO_BIG, status=413)
    return _store(request, instance, _payload(request), event_name)


@csrf_exempt
@require_POST
def server_hook(request: HttpRequest, secret: str, event_name: str = "") -> JsonResponse:
    server = GatewayServer.objects.filter(hook_secret_hash=hash_secret(secret)).first()
    if server is None:
        raise Http404
    if _too_big(request):
        return JsonResponse(TOO_BIG, status=413)
    payload = _payload(request)
    name = payload.get("instance") if payload else None
    name = name.get("instanceName") if isinstance(name, dict) else name
    # all_companies: routing by the instance name in the body, but only among this server's instances.
    instance = (
        Instance.all_companies.filter(server=server, gateway_name=name).select_related("company", "server").first()
        if isinstance(name, str) else None
    )
    if instance is None:
        return JsonResponse({"status": "ignored"})  # unknown or deleted instance: 200 so the gateway stops
    return _store(request, instance, payload, event_name)
