"""Why an instance changed state: stored as a short key or an English sentence, shown translated (gateway
messages stay verbatim)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from tenants.stored_text import sentence, shown


class Reason:
    CREATED = "created"
    CONNECT_REQUESTED = "connect_requested"
    GATEWAY_SAID = "gateway_state"
    LOGGED_OUT = "logged_out"
    QR_EXPIRED = "qr_expired"
    QR_LIMIT = "qr_limit"
    CONNECTION_CLOSED = "connection_closed"
    REMOVED_ON_GATEWAY = "removed_on_gateway"
    RECOVERED = "recovered"


LABELS = {
    Reason.CREATED: _("Instance created"),
    Reason.CONNECT_REQUESTED: _("Connection requested, waiting for the QR code to be scanned"),
    Reason.GATEWAY_SAID: _("Reported by the gateway"),
    Reason.LOGGED_OUT: _("WhatsApp disconnected (logged out)"),
    Reason.QR_EXPIRED: _("The QR code expired without being scanned"),
    Reason.QR_LIMIT: _("The gateway stopped generating QR codes"),
    Reason.CONNECTION_CLOSED: _("The WhatsApp connection closed"),
    Reason.REMOVED_ON_GATEWAY: _("The instance no longer exists on the gateway"),
    Reason.RECOVERED: _("The gateway answers again"),
}


# A refusal a background connect records (instances.services.gateway_errors), with the gateway's own words.
GATEWAY_SILENT = sentence(gettext_noop("The gateway did not answer: %(error)s"))


def reason_label(reason: str) -> str:
    """A translated sentence for a reason key or a sentence of ours; anything else (a gateway's message) as it came."""
    label = LABELS.get(reason)
    return str(label) if label is not None else shown(reason)
