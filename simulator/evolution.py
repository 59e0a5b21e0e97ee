"""The Evolution v2 routes: guards in the gateway's order, schemas, status codes and answers as recorded."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import messages as content
from . import schemas
from .engine import SimInstance, Simulator
from .wire import EvolutionError, RawAnswer, connection_closed_boom, digits, js_json_error, to_jid, validate

VERSION = "2.3.6"
WHATSAPP_WEB_VERSION = "2.3000.1027934701"


@dataclass
class Call:
    """One API call after the guards passed."""

    sim: Simulator
    request: Request
    body: Any
    instance: SimInstance | None

    @property
    def inst(self) -> SimInstance:
        assert self.instance is not None
        return self.instance


Handler = Callable[[Call], Awaitable[Any]]


async def read_body(request: Request) -> Any:
    """The JSON body (Express' body-parser runs before any guard, so bad JSON fails first)."""
    raw = await request.body()
    if not raw.strip() or "json" not in request.headers.get("content-type", ""):
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        # body-parser's SyntaxError keeps status 400 but the handler labels it as a 500 (recorded)
        raise EvolutionError(400, js_json_error(error), label="Internal Server Error") from None
    except UnicodeDecodeError:
        raise EvolutionError(400, "Unexpected token in JSON", label="Internal Server Error") from None


def authorize(sim: Simulator, request: Request, instance: SimInstance) -> None:
    """The apikey guard: the global key, or the token of the instance in the path."""
    key = request.headers.get("apikey")
    if sim.is_global(key) or instance in sim.owner_of(key):
        return
    raise EvolutionError(401, "Unauthorized")


async def delay(sim: Simulator, instance: SimInstance | None) -> None:
    total = sim.config.latency_ms + (instance.latency_ms if instance else 0)
    if total > 0:
        await asyncio.sleep(total / 1000)


def endpoint(
    path: str, method: str, *, status: int = 200, schema: dict[str, Any] | None = None
) -> Callable[[Handler], Route]:
    """An instance route (`{name}` last): 404 guard, then apikey, then schema, then the handler."""

    def decorator(handler: Handler) -> Route:
        async def view(request: Request) -> Response:
            sim: Simulator = request.app.state.sim
            try:
                body = await read_body(request)
                instance = sim.get(request.path_params["name"])
                await delay(sim, instance)
                authorize(sim, request, instance)
                await sim.apply_failure(instance, "any")
                if schema is not None:
                    validate(schema, body)
                return JSONResponse(await handler(Call(sim, request, body, instance)), status_code=status)
            except (EvolutionError, RawAnswer) as answer:
                return answer.response()

        return Route(path, view, methods=[method])

    return decorator


# --- instance ---------------------------------------------------------------------------------------------


async def root(request: Request) -> Response:
    base = request.app.state.sim.config.public_url
    return JSONResponse(
        {
            "status": 200,
            "message": "Welcome to the Evolution API, it is working!",
            "version": VERSION,
            "clientName": Simulator.client_name,
            "manager": f"{base}/manager",
            "documentation": "https://doc.evolution-api.com",
            "whatsappWebVersion": WHATSAPP_WEB_VERSION,
        }
    )


def _name_guard(sim: Simulator, name: object) -> None:
    """instanceLoggedGuard: runs before the key check; a missing name matches any existing row."""
    if name is not None and not isinstance(name, str):
        kind = {int: "Int", float: "Float", bool: "Boolean", list: "List", dict: "Object"}.get(type(name), "Value")
        text = (
            "PrismaClientValidationError: Invalid `prisma.instance.findMany()` invocation: "
            f"Argument `name`: Invalid value provided. Expected StringFilter or String, provided {kind}."
        )
        raise EvolutionError(500, [text])
    if (name is None and sim.instances) or name in sim.instances:
        raise EvolutionError(403, [f'This name "{name if name is not None else "undefined"}" is already in use.'])


async def create(request: Request) -> Response:
    sim: Simulator = request.app.state.sim
    try:
        body = await read_body(request)
        body = body if isinstance(body, dict) else {}
        _name_guard(sim, body.get("instanceName"))
        await delay(sim, None)
        if not sim.is_global(request.headers.get("apikey")):
            raise EvolutionError(401, "Unauthorized")
        validate(schemas.CREATE, body)
        if body.get("integration") not in schemas.INTEGRATIONS:
            raise EvolutionError(400, ["Invalid integration"])
        if not body.get("instanceName"):
            raise EvolutionError(400, [['instance requires property "instanceName"']])
        _, answer = sim.create(body)
        return JSONResponse(answer, status_code=201)
    except (EvolutionError, RawAnswer) as answer:
        return answer.response()


async def fetch_instances(request: Request) -> Response:
    sim: Simulator = request.app.state.sim
    key = request.headers.get("apikey")
    await delay(sim, None)
    visible = list(sim.instances.values()) if sim.is_global(key) else sim.owner_of(key)
    if not visible and not sim.is_global(key):
        return EvolutionError(401, "Unauthorized").response()
    query = request.query_params
    if query.get("instanceName"):
        visible = [i for i in visible if i.name == query["instanceName"]]
        if not visible:
            return EvolutionError(404, [f'Instance "{query["instanceName"]}" not found']).response()
    if query.get("instanceId"):
        visible = [i for i in visible if i.id == query["instanceId"]]
    if query.get("number"):
        visible = [i for i in visible if digits(i.owner_jid or i.number or "") == digits(query["number"])]
    return JSONResponse([instance.row(sim.client_name) for instance in visible])


@endpoint("/instance/connect/{name}", "GET")
async def connect(call: Call) -> Any:
    return call.sim.connect(call.inst, call.request.query_params.get("number"))


@endpoint("/instance/connectionState/{name}", "GET")
async def connection_state(call: Call) -> Any:
    return call.inst.state_object()


@endpoint("/instance/restart/{name}", "POST")
async def restart(call: Call) -> Any:
    return call.sim.restart(call.inst)


@endpoint("/instance/setPresence/{name}", "POST", status=201, schema=schemas.PRESENCE)
async def set_presence(call: Call) -> Any:
    if call.inst.state != "open":
        raise EvolutionError(400, ["TypeError: Cannot read properties of undefined (reading 'name')"])
    call.inst.presence = call.body["presence"]
    return {"presence": call.inst.presence}


@endpoint("/instance/logout/{name}", "DELETE")
async def logout(call: Call) -> Any:
    call.sim.logout(call.inst)
    return {"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}}


@endpoint("/instance/delete/{name}", "DELETE")
async def delete(call: Call) -> Any:
    call.sim.delete(call.inst)
    return {"status": "SUCCESS", "error": False, "response": {"message": "Instance deleted"}}


@endpoint("/webhook/set/{name}", "POST", status=201, schema=schemas.WEBHOOK_SET)
async def webhook_set(call: Call) -> Any:
    call.inst.webhook = call.sim.webhook_row(call.inst, call.body["webhook"])
    return call.inst.webhook


@endpoint("/webhook/find/{name}", "GET")
async def webhook_find(call: Call) -> Any:
    return call.inst.webhook


@endpoint("/settings/set/{name}", "POST", status=201, schema=schemas.SETTINGS_SET)
async def settings_set(call: Call) -> Any:
    call.sim.set_settings(call.inst, call.body)
    return {"settings": {"instanceName": call.inst.name, "settings": call.body}}


@endpoint("/settings/find/{name}", "GET")
async def settings_find(call: Call) -> Any:
    return dict(call.inst.settings)


# --- messages ---------------------------------------------------------------------------------------------


async def _deliver(call: Call, number: str, message_type: str, message: dict[str, Any]) -> Any:
    """The common tail of every send: session, injected failure, number check, then store and emit."""
    call.sim.require_socket(call.inst)
    await call.sim.apply_failure(call.inst, "send")
    call.sim.check_exists(number)
    context = content.context_info(call.body, call.inst.messages.get)
    if message_type == "reactionMessage":
        context = None
    return call.sim.record_outgoing(call.inst, to_jid(number), message_type, message, context)


@endpoint("/message/sendText/{name}", "POST", status=201, schema=schemas.SEND_TEXT)
async def send_text(call: Call) -> Any:
    if not call.body["text"].strip():
        raise EvolutionError(400, ["Text is required"])
    return await _deliver(call, call.body["number"], "conversation", {"conversation": call.body["text"]})


@endpoint("/message/sendMedia/{name}", "POST", status=201, schema=schemas.SEND_MEDIA)
async def send_media(call: Call) -> Any:
    body = call.body
    source = content.check_media(body.get("media"))
    if body["mediatype"] == "document" and not source.startswith("http") and not body.get("fileName"):
        raise EvolutionError(400, ["For base64 the file name must be informed."])
    message_type, media = content.media_content(
        body["mediatype"],
        source,
        mimetype=body.get("mimetype"),
        caption=body.get("caption"),
        file_name=body.get("fileName"),
    )
    wire = await _deliver(call, body["number"], message_type, {message_type: media})
    if not source.startswith("http"):  # kept, as WhatsApp's servers keep a sent file, for getBase64FromMediaMessage
        call.inst.media[wire["key"]["id"]] = base64.b64decode(source)
    return wire


@endpoint("/message/sendWhatsAppAudio/{name}", "POST", status=201, schema=schemas.SEND_AUDIO)
async def send_audio(call: Call) -> Any:
    source = content.check_media(call.body.get("audio"), what="audio")
    _, media = content.media_content("audio", source, mimetype="audio/ogg; codecs=opus", caption=None, file_name=None)
    media.update(ptt=True, seconds=max(1, len(source) // 4000))
    return await _deliver(call, call.body["number"], "audioMessage", {"audioMessage": media})


@endpoint("/message/sendSticker/{name}", "POST", status=201, schema=schemas.SEND_STICKER)
async def send_sticker(call: Call) -> Any:
    source = content.check_media(call.body.get("sticker"), what="sticker")
    _, media = content.media_content("sticker", source, mimetype="image/webp", caption=None, file_name=None)
    return await _deliver(call, call.body["number"], "stickerMessage", {"stickerMessage": media})


@endpoint("/message/sendLocation/{name}", "POST", status=201, schema=schemas.SEND_LOCATION)
async def send_location(call: Call) -> Any:
    body = call.body
    location = content.location_content(body["latitude"], body["longitude"], body["name"], body["address"])
    return await _deliver(call, body["number"], "locationMessage", {"locationMessage": location})


@endpoint("/message/sendContact/{name}", "POST", status=201, schema=schemas.SEND_CONTACT)
async def send_contact(call: Call) -> Any:
    message_type, cards = content.contacts_content(call.body["contact"])
    return await _deliver(call, call.body["number"], message_type, {message_type: cards})


@endpoint("/message/sendReaction/{name}", "POST", status=201, schema=schemas.SEND_REACTION)
async def send_reaction(call: Call) -> Any:
    key = call.body["key"]
    reaction = content.check_reaction(call.body["reaction"])
    message = {"reactionMessage": {"key": key, "text": reaction, "senderTimestampMs": str(int(time.time() * 1000))}}
    return await _deliver(call, key["remoteJid"], "reactionMessage", message)


@endpoint("/message/sendList/{name}", "POST", status=201, schema=schemas.SEND_LIST)
async def send_list(call: Call) -> Any:
    body = call.body
    list_message = {
        "title": body["title"],
        "description": body.get("description") or "",
        "buttonText": body["buttonText"],
        "footerText": body["footerText"],
        "listType": "SINGLE_SELECT",
        "sections": body["sections"],
    }
    return await _deliver(call, body["number"], "listMessage", {"listMessage": list_message})


@endpoint("/message/sendButtons/{name}", "POST", status=201, schema=schemas.SEND_BUTTONS)
async def send_buttons(call: Call) -> Any:
    body = call.body
    content.check_buttons(body["buttons"])
    # Baileys names the content by its first key: the echo's messageType is the wrapper's.
    return await _deliver(call, body["number"], "viewOnceMessage", content.buttons_content(body))


# --- chat -------------------------------------------------------------------------------------------------


@endpoint("/chat/whatsappNumbers/{name}", "POST", schema=schemas.WHATSAPP_NUMBERS)
async def whatsapp_numbers(call: Call) -> Any:
    if call.inst.state != "open":
        raise connection_closed_boom()
    known = {entry["remote_jid"]: entry.get("push_name") for entry in call.inst.timeline if entry["direction"] == "in"}
    answer = []
    for number in call.body["numbers"]:
        jid = to_jid(number)
        exists = jid.endswith("@g.us") or digits(jid) not in call.sim.not_on_whatsapp
        row: dict[str, Any] = {"jid": jid, "exists": exists, "number": number}
        if exists and known.get(jid):
            row["name"] = known[jid]
        answer.append(row)
    return answer


@endpoint("/chat/deleteMessageForEveryone/{name}", "DELETE", status=201, schema=schemas.DELETE_MESSAGE)
async def delete_for_everyone(call: Call) -> Any:
    call.sim.require_socket(call.inst)
    return call.sim.revoke(call.inst, call.body)


@endpoint("/chat/fetchProfilePictureUrl/{name}", "POST", schema=schemas.PROFILE_PICTURE)
async def profile_picture(call: Call) -> Any:
    call.sim.require_socket(call.inst)
    jid = to_jid(call.body["number"])
    return {"wuid": jid, "profilePictureUrl": call.sim.profile_pictures.get(digits(jid))}


@endpoint("/chat/getBase64FromMediaMessage/{name}", "POST", status=201, schema=schemas.MEDIA_BASE64)
async def media_base64(call: Call) -> Any:
    return call.sim.media_base64(call.inst, call.body)


@endpoint("/chat/findMessages/{name}", "POST", schema=schemas.FIND_MESSAGES)
async def find_messages(call: Call) -> Any:
    return call.sim.find_messages(call.inst, call.body if isinstance(call.body, dict) else {})


ROUTES = [
    Route("/", root, methods=["GET"]),
    Route("/instance/create", create, methods=["POST"]),
    Route("/instance/fetchInstances", fetch_instances, methods=["GET"]),
    connect,
    connection_state,
    restart,
    set_presence,
    logout,
    delete,
    webhook_set,
    webhook_find,
    settings_set,
    settings_find,
    send_text,
    send_media,
    send_audio,
    send_sticker,
    send_location,
    send_contact,
    send_reaction,
    send_list,
    send_buttons,
    whatsapp_numbers,
    delete_for_everyone,
    profile_picture,
    media_base64,
    find_messages,
]
