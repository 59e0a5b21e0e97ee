"""Live updates: the one place group names are built and fragments are published (STYLE rules 19-21)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from channels.layers import get_channel_layer
from django.db import transaction
from django.template.loader import render_to_string

if TYPE_CHECKING:
    from tenants.models import Company

logger = logging.getLogger(__name__)
# Topics are fixed words chosen by our code, optionally followed by a public id: "inbox",
# "instance.<hex>". Never built from client input without resolving the id first.
_TOPIC = re.compile(r"^[a-z_]+(\.[0-9a-f]{32})?$")


def topic_for(name: str, public_id: UUID | None = None) -> str:
    return f"{name}.{public_id.hex}" if public_id else name


def group_for(company: Company, topic: str) -> str:
    """The channel-layer group of one company's topic: company.<uuid hex>.<topic>."""
    if not _TOPIC.match(topic):
        raise ValueError(f"invalid realtime topic {topic!r}")
    return f"company.{company.public_id.hex}.{topic}"


def user_group(user_public_id: UUID) -> str:
    return f"user.{user_public_id.hex}"


_publisher_lock = threading.Lock()
_publisher: tuple[int, asyncio.AbstractEventLoop] | None = None


def _publisher_loop() -> asyncio.AbstractEventLoop:
    """One event loop per process, in a daemon thread, that every push from sync code goes through.

    `async_to_sync` from a worker starts a new loop per call, and the Redis channel layer keeps its
    connections per loop: every push paid for a new Redis connection (about half of the time the worker
    spent on an inbound message). A long-lived loop keeps them. Made again after a fork (Celery's prefork
    children), since a thread does not survive it.
    """
    global _publisher
    with _publisher_lock:
        if _publisher is None or _publisher[0] != os.getpid() or _publisher[1].is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="realtime-publisher", daemon=True).start()
            _publisher = (os.getpid(), loop)
        return _publisher[1]


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _publisher_loop()).result(timeout=10)
    except Exception:  # a push is a hint (rule 23): never fail the write that caused it
        logger.exception("realtime push to %s failed", group)


def publish(*, company: Company, topic: str, template_name: str | Sequence[str],
            context: dict[str, Any] | None = None) -> None:
    """Render a partial (with hx-swap-oob) and push it to the company's topic after the transaction commits.

    Several partials of one context (a sequence of names) go in one frame, in that order: one group_send
    (two to four Redis round trips and a hop to the publisher thread) instead of one each. The browser's ws
    extension swaps every top-level element of a frame by its hx-swap-oob (STYLE rule 19)."""
    group = group_for(company, topic)
    names = [template_name] if isinstance(template_name, str) else list(template_name)
    context = {**(context or {}), "oob": True}
    html = "".join(render_to_string(name, context) for name in names)
    transaction.on_commit(lambda: _send(group, {"type": "fragment", "html": html}))


def publish_event(*, company: Company, topic: str, payload: dict[str, Any]) -> None:
    """Push a JSON event (integrators' stream) to the company's topic after commit."""
    group = group_for(company, topic)
    transaction.on_commit(lambda: _send(group, {"type": "event", "payload": payload}))


def disconnect_user(*, user_public_id: UUID) -> None:
    """Close every socket of a user (membership removed, company suspended), after commit."""
    group = user_group(user_public_id)
    transaction.on_commit(lambda: _send(group, {"type": "force_disconnect"}))


# --- subscription topics --------------------------------------------------------------------
# A topic is either company-wide (no id) or about one object, resolved inside the company.
# Apps register theirs in AppConfig.ready(): register_topic("instance", lambda company, pid: ...).
TopicResolver = Any  # Callable[[Company, UUID], bool]: does this public id exist in this company?
_TOPICS: dict[str, TopicResolver | None] = {"company": None}


def register_topic(name: str, resolver: TopicResolver | None = None) -> None:
    if not re.fullmatch(r"[a-z_]+", name):
        raise ValueError(f"invalid topic name {name!r}")
    _TOPICS[name] = resolver


def resolve_topic(company: Company, name: str, public_id: str | None) -> str | None:
    """The topic a client may join, or None when the name is unknown or the id is not this company's.

    Must run inside the company's scope (it queries tenant tables).
    """
    if name not in _TOPICS:
        return None
    resolver = _TOPICS[name]
    if resolver is None:
        return name if not public_id else None
    try:
        uuid = UUID(str(public_id))
    except ValueError:
        return None
    return topic_for(name, uuid) if resolver(company, uuid) else None
