"""Inbound gateway webhooks (STYLE rule 31): the URL secret names the instance or server, never the payload.

`/hooks/evolution/<secret>/` is configured on each instance we create; `/hooks/evolution/server/<secret>/`
is the one URL an operator may set as a gateway's global webhook (it routes by the instance name in the
body, inside that server only). Both also accept Evolution's "webhook by events" suffix
(`.../<secret>/messages-upsert`). Each body is stored once and applied by the inbound drain (instances/inbound.py);
the answer is fast.

Every gateway event of every instance arrives on the instance hook, so config/asgi.py serves its POSTs through
`HookFastPath`: the same view, called without Django's middleware stack and URL resolver (sessions, CSRF,
locale, messages, CSP and the rest do nothing for a machine's JSON POST, and under ASGI each of them costs a
thread hop). What it keeps: ALLOWED_HOSTS, the body size limit, Django's exception-to-response handling.
"""

from __future__ import annotations

import json
import re
from functools import partial
from typing import TYPE_CHECKING

from django.core.exceptions import RequestDataTooBig
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.db import close_old_connections
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from instances import services
from instances.gateways.events import canonical_event_name
from instances.models import GatewayServer, Instance
from tenants.models import hash_secret
from tenants.scoping import first_row

if TYPE_CHECKING:
    from config.handler import OneHopASGIHandler


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
NOT_AN_OBJECT = {"error": "a JSON object body is required"}


def _store(request: HttpRequest, payload: dict, event_name: str, **instance) -> int | JsonResponse | None:
    """Store the body for the instance named by `secret_hash=` or `instance_id=`: its company id, None when
    nothing was stored (a repeat, or no such instance), or the 400 for a body the database refuses."""
    name = canonical_event_name(payload.get("event") or event_name)
    try:
        return services.inbound_event_store(body=request.body, payload=payload, event_name=name, **instance)
    except services.InboundBodyUnstorable as exc:
        return JsonResponse({"error": f"the body cannot be stored: {exc}"}, status=400)


@csrf_exempt
@require_POST
def instance_hook(request: HttpRequest, secret: str, event_name: str = "") -> JsonResponse:
    secret_hash = hash_secret(secret)
    # The common case costs one statement: the INSERT finds the instance by the secret's hash itself. The
    # instance is looked up on its own only to tell an unknown secret (404, checked before anything about
    # the body is said) from a repeat or a bad body.
    payload = None if _too_big(request) else _payload(request)
    stored = _store(request, payload, event_name, secret_hash=secret_hash) if payload is not None else None
    if isinstance(stored, int):
        return JsonResponse({"status": "stored"})
    # all_companies: the secret is the only credential and names exactly one instance of one company.
    if not Instance.all_companies.filter(webhook_secret_hash=secret_hash).exists():
        raise Http404
    if isinstance(stored, JsonResponse):
        return stored
    if payload is None:
        return JsonResponse(TOO_BIG, status=413) if _too_big(request) else JsonResponse(NOT_AN_OBJECT, status=400)
    return JsonResponse({"status": "duplicate"})


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
    instance_id = (
        first_row(Instance.all_companies.filter(server=server, gateway_name=name).values_list("pk", flat=True))
        if isinstance(name, str) else None
    )
    if instance_id is None:
        return JsonResponse({"status": "ignored"})  # unknown or deleted instance: 200 so the gateway stops
    stored = _store(request, payload, event_name, instance_id=instance_id)
    if isinstance(stored, JsonResponse):
        return stored
    return JsonResponse({"status": "stored" if stored is not None else "duplicate"})


# `/hooks/evolution/<secret>/` and `/hooks/evolution/<secret>/<event>` as instance_hook's routes match them
# (hook_urls.py); the server hook (`server/...`) and anything else go through Django as usual.
_INSTANCE_HOOK_PATH = re.compile(r"/hooks/evolution/(?!server/)([^/]+)/([^/]*)")


def _instance_hook_response(handler: ASGIHandler, secret: str, event_name: str, scope, body_file) -> HttpResponse:
    """The view as Django would run it, minus the middleware, in the handler's worker thread: with that thread's
    database connection checked before and given back after (what request_started/finished do)."""
    request, response = handler.create_request(scope, body_file)
    if request is None:
        return response

    def respond(request: HttpRequest) -> HttpResponse:
        request.get_host()  # ALLOWED_HOSTS (DisallowedHost becomes a 400, as for every other request)
        return instance_hook(request, secret=secret, event_name=event_name)

    close_old_connections()
    try:
        return convert_exception_to_response(respond)(request)
    finally:
        close_old_connections()


class HookFastPath:
    """ASGI app in front of Django's handler: instance hook POSTs go straight to the view; the rest to Django.
    Both are served by config/handler.py's one hand-off; the hook's JSON responses are not closed (their
    request_finished would run the connection check a second time; they hold nothing to release)."""

    def __init__(self, django_app: OneHopASGIHandler) -> None:
        self.django_app = django_app

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        match = _INSTANCE_HOOK_PATH.fullmatch(path) if scope["type"] == "http" and scope["method"] == "POST" else None
        if match is None:
            await self.django_app(scope, receive, send)
            return
        await self.django_app.handle(scope, receive, send,
                                     respond=partial(_instance_hook_response, self.django_app, *match.groups()))
