"""Sentences Recado writes into rows where no reader's language is known (a worker delivering a webhook, polling
a gateway, copying a file) and shows later to readers of any language.

They are stored in English, as their msgid formatted with its values: the API gives them as they are, and a page
shows them through `shown`, which finds the msgid again and translates it into the active language. A fixed
sentence needs nothing more than being in the catalogue; a sentence with values (`%(code)s`) is declared once
with `sentence()` so its pattern is known in every process, including those that never wrote one. Anything else
(a gateway's own message, a receiver's error) is shown as it came.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_DECLARED: dict[str, re.Pattern[str]] = {}


def sentence(msgid: str) -> str:
    """Declare a sentence with values that rows may hold; returns the msgid (use it with `english` or `gettext`)."""
    if msgid not in _DECLARED:
        parts = _PLACEHOLDER.split(msgid)
        # split() alternates literal text and placeholder names: literal, name, literal, name, ..., literal
        pattern = "".join(re.escape(part.replace("%%", "%")) if index % 2 == 0 else f"(?P<{part}>.*?)"
                          for index, part in enumerate(parts))
        _DECLARED[msgid] = re.compile(pattern, re.DOTALL)
    return msgid


def english(msgid: str, **values: object) -> str:
    """The text a row stores: the declared msgid with its values, untranslated whatever language is active."""
    if msgid not in _DECLARED:
        raise ValueError(f"declare {msgid!r} with stored_text.sentence() first")
    return msgid % values


def shown(text: str) -> str:
    """A stored sentence in the active language; text Recado did not write comes back unchanged."""
    if not text:
        return text
    translated = gettext(text)
    if translated != text:
        return translated
    for msgid, pattern in _DECLARED.items():
        match = pattern.fullmatch(text)
        if match:
            return gettext(msgid) % {name: shown(value) for name, value in match.groupdict().items()}
    return text
