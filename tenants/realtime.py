"""Live updates: the one place group names are built and fragments are published (STYLE rules 19-21)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from uuid import UUID

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

from tenants import redis_scripts

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


def language_codes() -> list[str]:
    """The languages pages are drawn in (settings.LANGUAGES), each fragment rendered once per one listened to."""
    from django.conf import settings

    return [code for code, _name in settings.LANGUAGES]


def language_group(group: str, language: str) -> str:
    """The group of the sockets of one language on a topic: fragments are rendered in the language of the page
    that receives them (a worker has no request to take one from), once per language someone listens in."""
    return f"{group}.{language}"


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


# A fragment's context, or a callable that reads it when the fragment is rendered (only if someone listens):
# None from it means there is nothing to show any more, and nothing is pushed.
Context = dict[str, Any] | Callable[[], "dict[str, Any] | None"]


class _Fragment:
    """A fragment still to be rendered: when it is sent, and only if someone listens to its group."""

    __slots__ = ("company", "context", "names")

    def __init__(self, names: list[str], context: Context, company: Company) -> None:
        self.names, self.context, self.company = names, context, company

    def render(self, languages: Sequence[str]) -> dict[str, dict[str, Any]] | None:
        """The fragment message in each of `languages` (its context read once), or None: nothing to show."""
        if callable(self.context):
            from tenants.scoping import company_scope

            with company_scope(self.company):  # after commit, wherever the caller's own scope has ended
                context = self.context()
        else:
            context = self.context
        if context is None:
            return None
        context = {**context, "oob": True}
        rendered = {}
        for language in languages:
            with translation.override(language):
                rendered[language] = {"type": "fragment",
                                      "html": "".join(render_to_string(name, context) for name in self.names)}
        return rendered


Push = tuple[str, "dict[str, Any] | _Fragment"]


def _send(group: str, message: dict[str, Any] | _Fragment) -> None:
    """Push one message to a group now, or (inside `coalesced()`) when that block ends."""
    held = getattr(_held, "pushes", None)
    if held is not None:
        held.append((group, message))
        return
    _send_all([(group, message)])


def _run(coroutine, what: str):
    try:
        return asyncio.run_coroutine_threadsafe(coroutine, _publisher_loop()).result(timeout=10)
    except Exception:  # a push is a hint (rule 23): never fail the write that caused it
        logger.exception("realtime %s failed", what)
        return None


def _rendered(layer, pushes: list[Push]) -> list[tuple[str, dict[str, Any]]]:
    """Fragments rendered for the language groups someone listens to (`language_group`), once per language;
    the others dropped unrendered (a conversation nobody has open costs no render and no PUBLISH). Rendered
    after commit from the objects the caller passed, in this thread (its database connection)."""
    pending = {language_group(group, language) for group, message in pushes if isinstance(message, _Fragment)
               for language in language_codes()}
    if not pending:
        return pushes  # type: ignore[return-value]
    listened = pending
    if hasattr(layer, "groups_listened"):
        answer = _run(layer.groups_listened(pending), "listener check")
        listened = pending if answer is None else answer  # Redis unreachable: render, the send will tell
    out = []
    for group, message in pushes:
        if not isinstance(message, _Fragment):
            out.append((group, message))
            continue
        languages = [language for language in language_codes() if language_group(group, language) in listened]
        if not languages:
            continue
        try:
            rendered = message.render(languages)
        except Exception:
            logger.exception("realtime fragment for %s could not be rendered", group)
            continue
        if rendered is not None:
            out.extend((language_group(group, language), fragment) for language, fragment in rendered.items())
    return out


def _send_all(pushes: list[Push]) -> None:
    """The pushes, in their order, one frame per group (`merged`), in one hop to the publisher thread."""
    layer = get_channel_layer()
    if layer is None or not pushes:
        return
    ready = merged(_rendered(layer, pushes))
    if not ready:
        return

    async def send() -> None:
        for group, message in ready:
            try:
                await layer.group_send(group, message)
            except Exception:  # one failed push must not cost the others theirs
                logger.exception("realtime push to %s failed", group)

    _run(send(), "pushes")


def merged(pushes: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """One frame per group for consecutive fragments: each group's fragments joined in the order they were
    pushed (the ws extension swaps every top-level element of a frame by its hx-swap-oob, so the page ends as
    it would after each frame in turn). Other messages (stream events, disconnects) keep their place."""
    out: list[tuple[str, dict[str, Any]]] = []
    last_fragment: dict[str, int] = {}  # group -> index in `out` of its fragment still open for appending
    for group, message in pushes:
        if message.get("type") == "fragment":
            index = last_fragment.get(group)
            if index is not None:
                out[index] = (group, {"type": "fragment", "html": out[index][1]["html"] + message["html"]})
                continue
            last_fragment[group] = len(out)
        else:
            last_fragment.pop(group, None)  # a later fragment must not jump ahead of this message
        out.append((group, message))
    return out


_held = threading.local()


@contextmanager
def coalesced() -> Iterator[None]:
    """Pushes made inside the block (those of transactions that commit inside it) go out when it ends, in one
    hop, one frame per group (`merged`). The inbound drain applies a batch of events in one transaction: with
    this, each open inbox gets one frame per batch instead of one per message. Nested blocks join the outer one."""
    if getattr(_held, "pushes", None) is not None:
        yield
        return
    _held.pushes = []
    try:
        yield
    finally:
        pushes, _held.pushes = _held.pushes, None
        _send_all(pushes)


def publish(*, company: Company, topic: str, template_name: str | Sequence[str],
            context: Context | None = None) -> None:
    """Push a partial (with hx-swap-oob) to the company's topic after the transaction commits.

    It is rendered then, from the context given, and only when some browser listens to the topic. Several
    partials of one context (a sequence of names) go in one frame, in that order, as do all the pushes to one
    topic inside `coalesced()`. The browser's ws extension swaps every top-level element of a frame by its
    hx-swap-oob (STYLE rule 19). A callable context is called then, so what only the fragment needs is read
    only when someone listens (None from it: nothing is pushed)."""
    group = group_for(company, topic)
    names = [template_name] if isinstance(template_name, str) else list(template_name)
    fragment = _Fragment(names, context if callable(context) else (context or {}), company)
    transaction.on_commit(lambda: _send(group, fragment))


def publish_event(*, company: Company, topic: str, payload: dict[str, Any], once_key: str | None = None) -> None:
    """Push a JSON event (integrators' stream) to the company's topic after commit.

    `once_key`: the emitter may run twice for the same change (a redelivered task) and nothing in the database
    says it already ran: the first commit that pushes under this key (per group, for as long as the broker may
    redeliver a task) is the only one pushed."""
    group = group_for(company, topic)

    def push() -> None:
        if once_key is None or _first_push(group, once_key):
            _send(group, {"type": "event", "payload": payload})

    transaction.on_commit(push)


def _first_push(group: str, once_key: str) -> bool:
    seconds = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    try:
        return bool(redis_scripts.client().set(redis_scripts.key(f"pushed-once:{group}:{once_key}"), "1",
                                               nx=True, ex=seconds))
    except Exception:  # Redis unreachable: so is the channel layer; the push will say so (rule 23: a hint)
        logger.exception("realtime once-key check for %s failed", group)
        return True


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
