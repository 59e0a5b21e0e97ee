"""Presentation helpers of the inbox: WhatsApp text formatting and clickable links on escaped text."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# The composer's emoji picker: the faces, gestures and objects a service desk uses most, each one code point
# (so the template iterates them safely); any other comes from the system's own emoji keyboard.
COMPOSER_EMOJI = (
    "😀😁😂🤣😊😍😘😉🙂🙃😅😆😎🤩🤔😐😕😢😭😡😱😴🤗🤝"
    "👍👎👏🙏👋👌💪👀🎉🎁🔥💯✅❌💬📞📦🚚💳💰🛒📍⏰📅📷💙💚⭐"
)


@register.simple_tag
def composer_emoji() -> str:
    return COMPOSER_EMOJI

# WhatsApp's markup: *bold*, _italic_, ~strike~, ```monospace```. Applied after escaping, so it can
# only ever add these four tags.
_RULES = (
    (re.compile(r"```(.+?)```", re.S), r"<code>\1</code>"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])"), r"<em>\1</em>"),
    (re.compile(r"(?<![\w~])~(?!\s)(.+?)(?<!\s)~(?![\w~])"), r"<del>\1</del>"),
)
# http(s) links only (never javascript: or data:), found in the raw text. Quotes and angle brackets end one;
# so do trailing punctuation and WhatsApp markers ("see *https://x.com*."), and a ")" that opens nowhere in it.
_URL = re.compile(r"(?<![^\W_])(?<![@/.])https?://[^\s<>\"'`]+", re.I)
_URL_TRAILING = ".,;:!?*_~"
# Where a link stands while the markup rules run, so they never rewrite inside it. NUL cannot be in a stored
# message (PostgreSQL text cannot hold it), and any that came in are dropped first.
_SLOT = re.compile("\x00(\\d+)\x00")


def _url_end(url: str) -> str:
    """The URL without what follows it in a sentence: trailing punctuation and markers, an unmatched ")"."""
    while url and (url[-1] in _URL_TRAILING or (url[-1] == ")" and url.count(")") > url.count("("))):
        url = url[:-1]
    return url


def _link(url: str) -> str:
    href = escape(url)
    return f'<a href="{href}" target="_blank" rel="noopener noreferrer nofollow">{href}</a>'


@register.filter
def whatsapp(text: str) -> SafeString:
    """Escaped message text with WhatsApp's markup as tags, line breaks, and its http(s) URLs as links."""
    text = (text or "").replace("\x00", "")
    links: list[str] = []
    parts: list[str] = []
    position = 0
    for found in _URL.finditer(text):
        url = _url_end(found.group())
        if "://" not in url or url.endswith("://"):
            continue
        parts.append(escape(text[position:found.start()]))
        parts.append(f"\x00{len(links)}\x00")
        links.append(_link(url))
        position = found.start() + len(url)
    parts.append(escape(text[position:]))
    html = "".join(parts)
    for pattern, replacement in _RULES:
        html = pattern.sub(replacement, html)
    html = _SLOT.sub(lambda slot: links[int(slot.group(1))], html)
    return mark_safe(linebreaks(html, autoescape=False))  # noqa: S308 (escaped above; only our tags added)
