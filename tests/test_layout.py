"""Page structure that keeps a phone-width window usable."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

TABLE_OR_WRAPPER = re.compile(r'<table\b|<div class="table-responsive[^"]*">')


def test_every_table_scrolls_inside_its_own_box():
    """A wide table in a bare container makes the whole page scroll sideways on a phone, navigation bar and all."""
    bare = []
    for path in sorted(Path(settings.BASE_DIR / "templates").rglob("*.html")):
        previous = ""
        for match in TABLE_OR_WRAPPER.finditer(path.read_text()):
            if match.group().startswith("<table") and not previous.startswith("<div"):
                bare.append(str(path.relative_to(settings.BASE_DIR)))
            previous = match.group()
    assert bare == []


def test_selects_sized_by_their_options_stay_inside_the_page():
    """A `w-auto` select is as wide as its longest option (a 50-character tag name): capped at its container."""
    uncapped = [
        f"{path.relative_to(settings.BASE_DIR)}: {select}"
        for path in sorted(Path(settings.BASE_DIR / "templates").rglob("*.html"))
        for select in re.findall(r"<select [^>]*>", path.read_text())
        if re.search(r'class="[^"]*\bw-auto\b', select) and not re.search(r'class="[^"]*\bmw-100\b', select)
    ]
    assert uncapped == []
