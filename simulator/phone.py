"""The "phone" page: scan the QR with one click, see what Recado sent, type messages as a customer."""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from . import customers
from .engine import SimInstance, Simulator

STYLE = """
body{font-family:system-ui,sans-serif;max-width:760px;margin:1.5rem auto;padding:0 1rem;color:#1c1c1c}
.badge{padding:.1rem .5rem;border-radius:.6rem;color:#fff;font-size:.85rem}
.open{background:#1a7f37}.connecting{background:#bf8700}.close{background:#6e7781}
.msg{border:1px solid #ddd;border-radius:.5rem;padding:.4rem .6rem;margin:.3rem 0;max-width:80%}
.out{margin-left:auto;background:#e7f8e3}.in{background:#fff}.meta{color:#666;font-size:.8rem}
form.inline{display:inline}button{cursor:pointer}input,select{margin:.15rem}
"""
SCRIPT = """
setInterval(async () => {
  const r = await fetch(location.pathname + '/live');
  if (r.ok) document.getElementById('live').innerHTML = await r.text();
}, 1500);
"""


def _page(title: str, body: str) -> HTMLResponse:
    html = f"<!doctype html><html><head><meta charset=utf-8><title>{escape(title)}</title><style>{STYLE}</style></head>"
    return HTMLResponse(f"{html}<body>{body}</body></html>")


async def index(request: Request) -> Response:
    sim: Simulator = request.app.state.sim
    rows = "".join(
        f'<li><a href="/_sim/phone/{escape(name)}">{escape(name)}</a> '
        f'<span class="badge {instance.state}">{instance.state}</span></li>'
        for name, instance in sim.instances.items()
    )
    listing = rows or "<li>No instances yet.</li>"
    body = f"<h1>Recado simulator</h1><p>An Evolution API 2.3.6-compatible gateway.</p><ul>{listing}</ul>"
    return _page("Recado simulator", body)


def _session(instance: SimInstance) -> str:
    base = f"/_sim/phone/{escape(instance.name)}"
    if instance.state == "open":
        who = f"{escape(instance.profile_name or '')} · +{escape((instance.owner_jid or '').split('@')[0])}"
        unlink = f'<form class=inline method=post action="{base}/disconnect"><button>Unlink this device</button></form>'
        return f"<p>Connected as {who}</p>{unlink}"
    if instance.state == "connecting" and instance.qr_image:
        pairing = f"<p>Pairing code: <b>{escape(instance.pairing_code)}</b></p>" if instance.pairing_code else ""
        return (
            f'<p>QR #{instance.qr_count} (rotates)</p><img alt="QR code" src="{instance.qr_image}" width=220>{pairing}'
            f'<form method=post action="{base}/scan"><button>📷 Scan with this phone</button></form>'
        )
    if instance.state == "connecting":
        return "<p>Connecting… (WhatsApp unreachable in this simulator's current settings)</p>"
    return (
        f'<p>No session.</p><form method=post action="{base}/connect"><button>Start a session (show QR)</button></form>'
    )


def _message(instance: SimInstance, entry: dict[str, Any]) -> str:
    base = f"/_sim/phone/{escape(instance.name)}"
    side = "in" if entry["direction"] == "in" else "out"
    who = (
        escape(entry.get("push_name") or "")
        if side == "in"
        else f"{entry['origin']} → {escape(entry['remote_jid'].split('@')[0])}"
    )
    actions = ""
    if entry["origin"] == "api" and not entry["deleted"]:
        actions = "".join(
            f'<form class=inline method=post action="{base}/status">'
            f'<input type=hidden name=message_id value="{escape(entry["id"])}">'
            f"<input type=hidden name=status value={status}><button>{label}</button></form>"
            for status, label in (("DELIVERY_ACK", "✓✓"), ("READ", "read"))
        )
    text = "<s>deleted</s>" if entry["deleted"] else escape(entry["summary"]) + _choices(base, entry)
    status = escape(entry.get("status") or "")
    meta = f"{who} · {escape(entry['timestamp'][11:19])} · {status} {actions}"
    return f'<div class="msg {side}"><div class=meta>{meta}</div>{text}</div>'


def _choices(base: str, entry: dict[str, Any]) -> str:
    """A sent list's rows or buttons, each a button that taps it as the customer (a list_reply or button_reply)."""
    if entry["direction"] != "out" or entry["message_type"] not in customers.ANSWERABLE:
        return ""
    return "<div>" + "".join(
        f'<form class=inline method=post action="{base}/choose">'
        f'<input type=hidden name=message_id value="{escape(entry["id"])}">'
        f'<input type=hidden name=option_id value="{escape(option["id"])}">'
        f"<button>{escape(option['title'])}</button></form>"
        for option in customers.options(entry)
    ) + "</div>"


def _live(instance: SimInstance) -> str:
    messages = (
        "".join(_message(instance, entry) for entry in instance.timeline[-50:]) or "<p class=meta>No messages yet.</p>"
    )
    return (
        f'<span class="badge {instance.state}">{instance.state}</span>{_session(instance)}<h2>Messages</h2>{messages}'
    )


def _instance(request: Request) -> SimInstance | None:
    return request.app.state.sim.instances.get(request.path_params["name"])


async def phone(request: Request) -> Response:
    instance = _instance(request)
    if instance is None:
        return _page(
            "Unknown instance",
            f"<p>No instance named {escape(request.path_params['name'])}. <a href=/_sim/>All instances</a></p>",
        )
    base = f"/_sim/phone/{escape(instance.name)}"
    form = (
        f'<h2>Write as a customer</h2><form method=post action="{base}/message">'
        '<input name=from placeholder="5511988887777" value="5511988887777" required>'
        '<input name=push_name placeholder="Name" value="Maria">'
        '<input name=text placeholder="Message" required size=40> <button>Send</button></form>'
    )
    body = f"<h1>📱 {escape(instance.name)}</h1><div id=live>{_live(instance)}</div>{form}<script>{SCRIPT}</script>"
    return _page(f"Phone · {instance.name}", body)


async def live(request: Request) -> Response:
    instance = _instance(request)
    return HTMLResponse(_live(instance) if instance else "<p>Instance removed.</p>")


async def _form(request: Request) -> dict[str, str]:
    parsed = parse_qs((await request.body()).decode(), keep_blank_values=True)
    return {key: values[0] for key, values in parsed.items()}


def _has_option(instance: SimInstance, form: dict[str, str]) -> bool:
    entry = instance.messages.get(form.get("message_id") or "")
    return entry is not None and any(option["id"] == form.get("option_id") for option in customers.options(entry))


async def act(request: Request) -> Response:
    """Handle the page's buttons and form, then go back to the page."""
    instance = _instance(request)
    sim: Simulator = request.app.state.sim
    if instance is None:
        return RedirectResponse("/_sim/", status_code=303)
    action, form = request.path_params["action"], await _form(request)
    if action == "scan" and instance.state == "connecting" and instance.qr_code:
        sim.scan(instance, None, None)
    elif action == "connect" and instance.state == "close":
        sim.connect(instance, None)
    elif action == "disconnect" and instance.state != "close":
        sim.close_session(instance, 401, "Device unlinked from the phone")
    elif action == "status" and form.get("message_id") in instance.messages:
        sim.set_status(instance, form["message_id"], form.get("status") or "READ")
    elif action == "message" and instance.state == "open" and form.get("text"):
        spec = {"from": form.get("from"), "push_name": form.get("push_name") or None, "text": form["text"]}
        sim.inbound(instance, customers.build(instance, spec, sim.config.public_url))
    elif action == "choose" and instance.state == "open" and _has_option(instance, form):
        # The customer the list or buttons went to taps one of its options.
        answered = instance.messages[form["message_id"]]
        kind = "list_reply" if answered["message_type"] == "listMessage" else "button_reply"
        spec = {"from": answered["remote_jid"].split("@")[0], "kind": kind, "reply_to": answered["id"],
                "option_id": form["option_id"]}
        names = [entry["push_name"] for entry in instance.timeline
                 if entry["origin"] == "customer" and entry["remote_jid"] == answered["remote_jid"]]
        if names and names[-1]:
            spec["push_name"] = names[-1]  # the customer taps under the name it wrote with
        sim.inbound(instance, customers.build(instance, spec, sim.config.public_url))
    return RedirectResponse(f"/_sim/phone/{instance.name}", status_code=303)


ROUTES = [
    Route("/_sim/", index, methods=["GET"]),
    Route("/_sim/phone/{name}", phone, methods=["GET"]),
    Route("/_sim/phone/{name}/live", live, methods=["GET"]),
    Route("/_sim/phone/{name}/{action}", act, methods=["POST"]),
]
