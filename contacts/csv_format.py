"""The contact CSV format: reading uploads (encoding, delimiter, column guessing) and writing exports.

Export columns use the same names the importer recognises, so an exported file imports back unchanged.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact

# Contact fields a CSV column can be mapped to ("" = skip the column).
FIELDS = {
    "": _("Skip this column"),
    "identifier": _("Number / identifier"),
    "name": _("WhatsApp name"),
    "custom_name": _("Custom name"),
    "tags": _("Tags (separated by ; or |)"),
    "is_ignored": _("Ignored (yes/no)"),
    "bot_paused": _("Bot paused (yes/no)"),
    "platform": _("Bot platform"),
    "photo_url": _("Photo URL"),
}
# Header names (lowercase) recognised for each field, English and Portuguese.
_ALIASES = {
    "identifier": {"identifier", "number", "phone", "phone number", "whatsapp", "mobile", "numero", "número",
                   "telefone", "celular", "identificador"},
    "name": {"name", "push name", "nome", "whatsapp name"},
    "custom_name": {"custom_name", "custom name", "nome personalizado", "apelido"},
    "tags": {"tags", "tag", "etiquetas", "etiqueta"},
    "is_ignored": {"is_ignored", "ignored", "ignorado"},
    "bot_paused": {"bot_paused", "bot paused", "bot pausado"},
    "platform": {"platform", "plataforma"},
    "photo_url": {"photo_url", "photo", "foto"},
}
EXPORT_COLUMNS = ["identifier", "name", "custom_name", "type", "channel", "tags", "is_ignored", "bot_paused",
                  "platform", "photo_url", "extra_identifiers", "created_at"]
# Spreadsheet programs run a cell that starts with one of these as a formula ("CSV injection"); WhatsApp
# names are chosen by strangers, so such cells are written with a leading apostrophe and read back without it.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TRUE_WORDS = {"yes", "y", "true", "1", "sim", "s", "x"}
FALSE_WORDS = {"no", "n", "false", "0", "não", "nao"}
TAG_SEPARATORS = (";", "|")


def decode(raw: bytes) -> str:
    """UTF-16 with its BOM (Excel's "Unicode text", tab separated), UTF-8 (with or without BOM), else
    Windows-1252: what spreadsheet programs actually save."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace")  # the BOM says which byte order, and is dropped
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def sniff_delimiter(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def read_rows(text: str, delimiter: str) -> Iterator[list[str]]:
    # Universal newlines: Excel for Mac's "CSV (Macintosh)" ends its lines with a lone \r.
    for row in csv.reader(io.StringIO(text, newline=None), delimiter=delimiter):
        if any(cell.strip() for cell in row):
            yield [_unescape(cell.strip()) for cell in row]


def _escape(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _unescape(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_STARTS) else value


def guess_mapping(header: list[str]) -> dict[str, str]:
    """Column index (as a string) → field, from the header's names; each field used once."""
    mapping, used = {}, set()
    for index, title in enumerate(header):
        for field, names in _ALIASES.items():
            if title.strip().lower() in names and field not in used:
                mapping[str(index)] = field
                used.add(field)
                break
    return mapping


def split_tags(value: str) -> list[str]:
    for separator in TAG_SEPARATORS:
        value = value.replace(separator, "\n")
    return [name.strip() for name in value.split("\n") if name.strip()]


def parse_bool(value: str) -> bool | None:
    lowered = value.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ValueError(value)


class _Line:
    """A file-like that hands back what csv.writer wrote (one line at a time, for streaming)."""

    def write(self, value: str) -> str:
        return value


def export_lines(contacts: Iterable[Contact]) -> Iterator[str]:
    """The CSV export, one line at a time; `contacts` must have channel, tags and identifiers loaded."""
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow(EXPORT_COLUMNS)  # BOM: spreadsheet programs then read UTF-8 right
    for contact in contacts:
        yield writer.writerow(_escape(str(cell)) for cell in [
            contact.identifier, contact.name, contact.custom_name, contact.type, contact.instance.name,
            "; ".join(tag.name for tag in contact.tags.all()),
            "yes" if contact.is_ignored else "no", "yes" if contact.bot_paused else "no",
            contact.platform, contact.photo_url,
            " ".join(row.identifier for row in contact.identifiers.all() if row.kind != "primary"),
            contact.created_at.isoformat(),
        ])


def rejected_lines(header: list[str], rejected: list[dict]) -> Iterator[str]:
    """The report of rejected rows: the original cells plus line number and reason."""
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow([gettext("line"), gettext("reason"), *header])
    for item in rejected:
        yield writer.writerow([item["line"], item["reason"], *map(_escape, item["values"])])
