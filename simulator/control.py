"""Control routes under /_sim/ (JSON) that let people and tests play WhatsApp's side."""

from __future__ import annotations

import base64
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import customers
from .config import SimulatorConfig
from .engine import SimInstance, Simulator
from .messages import SAMPLE_PNG

FAILURE_MODES = ("server_error", "connection_closed", "not_on_whatsapp", "refused", "timeout", "unauthorized")
STATUSES = ("PENDING", "SERVER_ACK", "DELIVERY_ACK", "READ", "PLAYED", "ERROR", "DELETED")


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def sim_of(request: Request) -> Simulator:
    return request.app.state.sim


def instance_of(request: Request) -> SimInstance:
    instance = sim_of(request).instances.get(request.path_params["name"])
    if instance is None:
        raise ControlError(404, f"no instance named {request.path_params['name']!r}")
    return instance


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ControlError(400, f"invalid JSON: {error}") from None
    if not isinstance(body, dict):
        raise ControlError(400, "the body must be a JSON object")
    return body


def control(path: str, method: str = "POST"):
    """A JSON control route; ControlError becomes `{"error": ...}`."""

    def decorator(handler: Any) -> Route:
        async def view(request: Request) -> Response:
            try:
                return JSONResponse(await handler(request))
            except ControlError as error:
                return JSONResponse({"error": error.message}, status_code=error.status)

        return Route(path, view, methods=[method])

    return decorator


def summary(instance: SimInstance) -> dict[str, Any]:
    """What a person or a test wants to see about one instance."""
    return {
        "name": instance.name,
        "id": instance.id,
        "state": instance.state,
        "owner_jid": instance.owner_jid,
        "profile_name": instance.profile_name,
        "qr": instance.qr_object() if instance.state == "connecting" else None,
        "webhook": instance.webhook,
        "pending_failures": list(instance.failures),
        "latency_ms": instance.latency_ms,
        "messages": len(instance.timeline),
    }


def entry_view(entry: dict[str, Any]) -> dict[str, Any]:
    shown = {key: value for key, value in entry.items() if key not in ("wire", "content")}
    return shown | {"message": entry["wire"]["message"]}


@control("/_sim/config", "GET")
async def get_config(request: Request) -> Any:
    return sim_of(request).config.public()


@control("/_sim/config")
async def set_config(request: Request) -> Any:
    config = sim_of(request).config
    try:
        rejected = config.update(await json_body(request))
    except (TypeError, ValueError) as error:
        raise ControlError(400, str(error)) from None
    if rejected:
        raise ControlError(400, f"unknown or read-only settings: {', '.join(rejected)}")
    return config.public()


@control("/_sim/reset")
async def reset(request: Request) -> Any:
    base: SimulatorConfig = request.app.state.base_config
    sim_of(request).reset(SimulatorConfig(**base.__dict__))
    return {"reset": True}


@control("/_sim/instances", "GET")
async def list_instances(request: Request) -> Any:
    return [summary(instance) for instance in sim_of(request).instances.values()]


@control("/_sim/instances/{name}", "GET")
async def show_instance(request: Request) -> Any:
    return summary(instance_of(request))


@control("/_sim/instances/{name}/scan")
async def scan(request: Request) -> Any:
    instance = instance_of(request)
    body = await json_body(request)
    if instance.state != "connecting" or (not instance.qr_code and not instance.pairing_code):
        raise ControlError(409, f"nothing to scan: the instance is {instance.state} without a QR (call connect first)")
    sim_of(request).scan(instance, body.get("number"), body.get("profile_name"))
    return summary(instance)


@control("/_sim/instances/{name}/disconnect")
async def disconnect(request: Request) -> Any:
    instance = instance_of(request)
    body = await json_body(request)
    if instance.state == "close":
        raise ControlError(409, "the instance is already closed")
    reason = int(body.get("reason") or 401)
    sim_of(request).close_session(instance, reason, body.get("message") or "Connection Failure")
    return summary(instance)


@control("/_sim/instances/{name}/inbound")
async def inbound(request: Request) -> Any:
    instance = instance_of(request)
    sim = sim_of(request)
    body = await json_body(request)
    if instance.state != "open":
        raise ControlError(409, f"the instance is {instance.state}; scan the QR first")
    try:
        wire = customers.build(instance, body, sim.config.public_url)
    except customers.SpecError as error:
        raise ControlError(400, str(error)) from None
    return sim.inbound(instance, wire, duplicates=int(body.get("duplicate") or 0))


@control("/_sim/instances/{name}/messages", "GET")
async def timeline(request: Request) -> Any:
    return [entry_view(entry) for entry in instance_of(request).timeline]


@control("/_sim/instances/{name}/sent", "GET")
async def sent(request: Request) -> Any:
    return [entry_view(entry) for entry in instance_of(request).timeline if entry["origin"] == "api"]


@control("/_sim/instances/{name}/messages/{message_id}/status")
async def message_status(request: Request) -> Any:
    instance = instance_of(request)
    body = await json_body(request)
    statuses = body.get("statuses") or [body.get("status") or "READ"]
    unknown = [status for status in statuses if status not in STATUSES]
    if unknown:
        raise ControlError(400, f"unknown statuses {unknown}; use {', '.join(STATUSES)}")
    try:
        events = [
            sim_of(request).set_status(instance, request.path_params["message_id"], status) for status in statuses
        ]
    except KeyError:
        raise ControlError(404, "no such message on this instance") from None
    return {"emitted": events}


@control("/_sim/instances/{name}/fail")
async def fail(request: Request) -> Any:
    instance = instance_of(request)
    body = await json_body(request)
    mode = body.get("mode") or "server_error"
    if mode not in FAILURE_MODES:
        raise ControlError(400, f"mode must be one of {', '.join(FAILURE_MODES)}")
    scope = body.get("scope") or "send"
    if scope not in ("send", "any"):
        raise ControlError(400, "scope must be 'send' or 'any'")
    failure = {key: body[key] for key in ("seconds", "message", "number") if key in body}
    failure.update(mode=mode, scope=scope, remaining=int(body.get("count") or 1))
    instance.failures.append(failure)
    return summary(instance)


@control("/_sim/instances/{name}/latency")
async def instance_latency(request: Request) -> Any:
    instance = instance_of(request)
    instance.latency_ms = int((await json_body(request)).get("ms") or 0)
    return summary(instance)


@control("/_sim/instances/{name}/events", "GET")
async def events(request: Request) -> Any:
    return list(instance_of(request).events)


@control("/_sim/instances/{name}/events/{seq:int}/replay")
async def replay(request: Request) -> Any:
    try:
        return sim_of(request).replay(instance_of(request), request.path_params["seq"])
    except KeyError:
        raise ControlError(404, "no event with that sequence number") from None


@control("/_sim/deliveries", "GET")
async def deliveries(request: Request) -> Any:
    name = request.query_params.get("instance")
    return [row for row in sim_of(request).webhooks.log if name is None or row["instance"] == name]


@control("/_sim/numbers")
async def numbers(request: Request) -> Any:
    sim = sim_of(request)
    body = await json_body(request)
    sim.not_on_whatsapp.update(customers.digits(str(number)) for number in body.get("not_on_whatsapp") or [])
    for number, url in (body.get("profile_pictures") or {}).items():
        sim.profile_pictures[customers.digits(number)] = url
    return {"not_on_whatsapp": sorted(sim.not_on_whatsapp), "profile_pictures": sim.profile_pictures}


async def qr_png(request: Request) -> Response:
    instance = sim_of(request).instances.get(request.path_params["name"])
    if instance is None or not instance.qr_image:
        return JSONResponse({"error": "no QR right now"}, status_code=404)
    return Response(base64.b64decode(instance.qr_image.split(",", 1)[1]), media_type="image/png")


async def sample_media(request: Request) -> Response:
    return Response(base64.b64decode(SAMPLE_PNG.split(",", 1)[1]), media_type="image/png")


ROUTES = [
    get_config,
    set_config,
    reset,
    list_instances,
    show_instance,
    scan,
    disconnect,
    inbound,
    timeline,
    sent,
    message_status,
    fail,
    instance_latency,
    events,
    replay,
    deliveries,
    numbers,
    Route("/_sim/instances/{name}/qr.png", qr_png, methods=["GET"]),
    Route("/_sim/media/sample.png", sample_media, methods=["GET"]),
]
