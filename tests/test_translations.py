"""The pt-BR catalogue covers the templates: a string the extractor mangled shows in English on a pt-BR page."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po
from django.conf import settings

TRANSLATE_TAG = re.compile(r'\{%\s*(?:translate|trans)\s+"((?:[^"\\]|\\.)*)"')


def test_every_translate_tag_in_the_templates_has_a_pt_br_translation():
    with (settings.BASE_DIR / "locale/pt_BR/LC_MESSAGES/django.po").open("rb") as po:
        translated = {message.id for message in read_po(po) if message.id and message.string and not message.fuzzy}
    untranslated = [
        f"{path.relative_to(settings.BASE_DIR)}: {text}"
        for path in sorted(Path(settings.BASE_DIR / "templates").rglob("*.html"))
        for text in (re.sub(r"\\(.)", r"\1", literal) for literal in TRANSLATE_TAG.findall(path.read_text()))
        if text not in translated
    ]
    assert untranslated == []
