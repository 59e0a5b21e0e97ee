"""Celery tasks of contacts: thin wrappers that load ids and call one service (STYLE rules 24-28)."""

from __future__ import annotations

import logging

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from contacts import imports, services
from contacts.models import ContactImport
from tenants.models import Company
from tenants.tasks import company_task

logger = logging.getLogger(__name__)


# Big files take minutes, not seconds: a longer budget than the default (the broker's visibility
# timeout, 7 h, is far above it). Rows are upserts, so a redelivered task simply runs again.
@company_task(name="contacts.run_import", queue="default", soft_time_limit=15 * 60, time_limit=16 * 60)
def run_import(company: Company, import_id: int, language: str = "") -> None:
    """`language`: the one the import was started in, which its stored reasons for rejected rows are written in."""
    contact_import = ContactImport.objects.filter(company=company, pk=import_id).first()
    if contact_import is None:
        return
    with translation.override(language or settings.LANGUAGE_CODE):
        try:
            imports.contact_import_run(company=company, contact_import=contact_import)
        except SoftTimeLimitExceeded:
            imports.contact_import_fail(company=company, contact_import=contact_import,
                                        reason=_("The import took too long; split the file and import the parts."))
        except Exception:
            logger.exception("contact import %s failed", import_id)
            imports.contact_import_fail(company=company, contact_import=contact_import,
                                        reason=_("The import stopped on an unexpected error; it has been logged."))


@company_task(name="contacts.announce_updated", queue="default", soft_time_limit=120, time_limit=150)
def announce_updated(company: Company, contact_ids: list[int], batch_key: str = "") -> int:
    """contact.updated for a batch of contacts a bulk tag action changed (after its commit). `batch_key` names the
    action: a redelivered task finds its events recorded under it and sends nothing twice (one enqueued before
    the key existed has none and announces its batch again, as webhooks are at-least-once)."""
    return services.contacts_announce_updated(company=company, contact_ids=contact_ids, batch_key=batch_key)

