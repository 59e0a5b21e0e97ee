"""CSV import use cases: upload → preview with column mapping → background run with live progress.

Each row is an idempotent upsert on the contact's identity (instance + any form of its number):
a new number creates a contact, a known one gets the file's non-empty values and any missing tags,
and a row that changes nothing counts as unchanged, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import csv
from collections import deque

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from contacts import csv_format, services
from contacts.identity import parse_identifier
from contacts.models import ContactImport
from instances.models import Instance
from tenants import realtime
from tenants.models import Company, User

PREVIEW_ROWS = 5
# The largest file an import takes, from the page or the API.
MAX_FILE_BYTES = 5 * 1024 * 1024
BATCH = 100
# Pushed to the import's topic: a language-free nudge; each page then fetches its progress in its own language.
NUDGE_TEMPLATE = "contacts/import_detail.html#import-nudge"


class ImportFileError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def contact_import_create(*, company: Company, instance: Instance, filename: str, raw: bytes,
                          created_by: User | None = None) -> ContactImport:
    """Store an uploaded file for preview; the mapping is guessed from its header."""
    not_csv = _("This is not a CSV file. Save the spreadsheet as CSV (comma or semicolon separated) and upload that.")
    text = csv_format.decode(raw)
    # A picture, a zip (.xlsx): no text holds NUL, and PostgreSQL could not store it. Checked once decoded, as
    # UTF-16 (Excel's "Unicode text") has a NUL byte in every ASCII character.
    if "\0" in text:
        raise ImportFileError(not_csv)
    delimiter = csv_format.sniff_delimiter(text)
    try:  # read to its end now: a file the csv module cannot parse would otherwise fail the background run
        deque(csv_format.read_rows(text, delimiter), maxlen=0)
    except csv.Error as error:
        raise ImportFileError(not_csv) from error
    rows = list(_first_rows(text, delimiter, 2))
    if not rows:
        raise ImportFileError(_("The file is empty."))
    mapping = csv_format.guess_mapping(rows[0])
    has_header = bool(mapping)
    if not has_header:
        mapping = {"0": "identifier"}
    return ContactImport.objects.create(
        company=company, instance=instance, created_by=created_by, filename=filename[:200], content=text,
        delimiter=delimiter, has_header=has_header, mapping=mapping,
    )


def _first_rows(text: str, delimiter: str, count: int):
    for index, row in enumerate(csv_format.read_rows(text, delimiter)):
        if index >= count:
            return
        yield row


def contact_import_preview(contact_import: ContactImport) -> tuple[list[str], list[list[str]]]:
    """The header (or "Column N" names) and the first data rows, padded to the same width."""
    rows = list(_first_rows(contact_import.content, contact_import.delimiter, PREVIEW_ROWS + 1))
    width = max((len(row) for row in rows), default=0)
    rows = [row + [""] * (width - len(row)) for row in rows]
    if contact_import.has_header and rows:
        return rows[0], rows[1:]
    return [_("Column %(number)s") % {"number": index + 1} for index in range(width)], rows[:PREVIEW_ROWS]


def contact_import_start(*, company: Company, contact_import: ContactImport, mapping: dict[str, str],
                         has_header: bool) -> ContactImport:
    """Fix the mapping and queue the background run (after commit); a second start does nothing."""
    fields = [field for field in mapping.values() if field]
    if "identifier" not in fields:
        raise ValidationError(_("Choose which column holds the number."))
    if len(fields) != len(set(fields)):
        raise ValidationError(_("Each contact field can come from one column only."))
    with transaction.atomic():
        started = ContactImport.objects.filter(
            company=company, pk=contact_import.pk, status=ContactImport.Status.PREVIEW,
        ).update(status=ContactImport.Status.QUEUED, mapping={k: v for k, v in mapping.items() if v},
                 has_header=has_header)
        if started:
            from contacts.tasks import run_import as run_import_task

            language = translation.get_language()  # the starter's: the worker writes the rejection reasons in it
            transaction.on_commit(lambda: run_import_task.delay(company.pk, contact_import.pk, language))
    contact_import.refresh_from_db()
    return contact_import


def contact_import_run(*, company: Company, contact_import: ContactImport) -> ContactImport:
    """Process every row (the Celery task's body). Safe to run again: rows are upserts."""
    claimed = ContactImport.objects.filter(
        company=company, pk=contact_import.pk,
        status__in=[ContactImport.Status.QUEUED, ContactImport.Status.RUNNING],
    ).update(status=ContactImport.Status.RUNNING, processed_rows=0, created_count=0, updated_count=0,
             unchanged_count=0, rejected_count=0, rejected=[])
    if not claimed:
        return contact_import
    rows = list(csv_format.read_rows(contact_import.content, contact_import.delimiter))
    first_line = 2 if contact_import.has_header else 1
    if contact_import.has_header:
        rows = rows[1:]
    contact_import.refresh_from_db()
    contact_import.total_rows = len(rows)
    contact_import.save(update_fields=["total_rows"])
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    rejected: list[dict] = []
    seen: dict[str, int] = {}
    for start in range(0, len(rows), BATCH):
        for offset, row in enumerate(rows[start:start + BATCH]):
            line = first_line + start + offset
            try:
                counts[_import_row(company, contact_import, row, line, seen)] += 1
            except RowRejected as error:
                rejected.append({"line": line, "values": row, "reason": error.reason})
        _progress(company, contact_import, processed=min(start + BATCH, len(rows)), counts=counts, rejected=rejected)
    ContactImport.objects.filter(company=company, pk=contact_import.pk).update(
        status=ContactImport.Status.DONE, finished_at=timezone.now(), processed_rows=len(rows))
    contact_import.refresh_from_db()
    _publish(company, contact_import)
    return contact_import


def contact_import_fail(*, company: Company, contact_import: ContactImport, reason: str) -> None:
    ContactImport.objects.filter(company=company, pk=contact_import.pk).update(
        status=ContactImport.Status.FAILED, error=reason[:300], finished_at=timezone.now())
    contact_import.refresh_from_db()
    _publish(company, contact_import)


def _progress(company: Company, contact_import: ContactImport, *, processed: int, counts: dict,
              rejected: list[dict]) -> None:
    ContactImport.objects.filter(company=company, pk=contact_import.pk).update(
        processed_rows=processed, created_count=counts["created"], updated_count=counts["updated"],
        unchanged_count=counts["unchanged"], rejected_count=len(rejected), rejected=rejected)
    contact_import.refresh_from_db()
    _publish(company, contact_import)


def _publish(company: Company, contact_import: ContactImport) -> None:
    realtime.publish(company=company, topic=realtime.topic_for("contact_import", contact_import.public_id),
                     template_name=NUDGE_TEMPLATE, context={"company": company, "contact_import": contact_import})


class RowRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _row_values(contact_import: ContactImport, row: list[str]) -> dict[str, str]:
    return {field: row[int(index)] if int(index) < len(row) else "" for index, field in contact_import.mapping.items()}


def _import_row(company: Company, contact_import: ContactImport, row: list[str], line: int,
                seen: dict[str, int]) -> str:
    """Upsert one row; returns "created", "updated" or "unchanged", or raises RowRejected with the reason."""
    values = _row_values(contact_import, row)
    try:
        identity = parse_identifier(values.get("identifier", ""))
    except ValidationError as error:
        raise RowRejected(" ".join(error.messages)) from None
    if identity.value in seen:
        raise RowRejected(_("Same contact as line %(line)s.") % {"line": seen[identity.value]})
    seen[identity.value] = line
    fields = _fields(values)
    tag_names = csv_format.split_tags(values.get("tags", ""))
    try:
        with transaction.atomic():
            return _upsert(company, contact_import.instance, values["identifier"], identity.keys, fields, tag_names)
    except ValidationError as error:
        messages = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
        raise RowRejected(" ".join(f"{k}: {' '.join(v)}" if k else " ".join(v) for k, v in messages.items())) from None
    except IntegrityError:
        raise RowRejected(_("Another import or message created this contact at the same moment; "
                            "import the file again.")) from None


def _fields(values: dict[str, str]) -> dict:
    fields = {}
    for field in ("name", "custom_name", "platform", "photo_url"):
        if values.get(field):
            fields[field] = values[field]
    for field in ("is_ignored", "bot_paused"):
        if values.get(field):
            try:
                fields[field] = csv_format.parse_bool(values[field])
            except ValueError:
                raise RowRejected(_("%(field)s: use yes or no, not “%(value)s”.") % {
                    "field": field, "value": values[field]}) from None
    return fields


def _upsert(company: Company, instance: Instance, identifier: str, keys: tuple[str, ...], fields: dict,
            tag_names: list[str]) -> str:
    tags = services.tags_get_or_create(company=company, names=tag_names)
    existing = services.contact_find(company=company, instance=instance, keys=keys)
    if existing is None:
        services.contact_create(company=company, instance=instance, identifier=identifier, tags=tags, **fields)
        return "created"
    changed = {key: value for key, value in fields.items() if getattr(existing, key) != value}
    have = set(existing.tag_links.values_list("tag_id", flat=True))
    missing_tags = [tag for tag in tags if tag.pk not in have]
    if not changed and not missing_tags:
        return "unchanged"
    # One update (one contact.updated) for the row's fields and its missing tags together.
    tags = [*existing.tags.all(), *missing_tags] if missing_tags else None
    services.contact_update(company=company, contact=existing, actor=_("CSV import"), tags=tags, **changed)
    return "updated"
