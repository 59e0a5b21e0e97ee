"""The event types integrators can subscribe to (docs/webhooks.md shows a body of each)."""

from django.utils.translation import gettext_lazy as _

EVENT_TYPES: dict[str, str] = {
    "message.received": _("A customer's message arrived"),
    "message.sent": _("A message left for the customer"),
    "message.status": _("A message was delivered, read, played or failed"),
    "message.deleted": _("A message was deleted for everyone"),
    "conversation.opened": _("A conversation was opened or reopened"),
    "conversation.assigned": _("A conversation was assigned"),
    "conversation.closed": _("A conversation was closed"),
    "conversation.updated": _("A conversation's priority changed, or it moved between open and pending"),
    "contact.created": _("A contact was created"),
    "contact.updated": _("A contact was changed"),
    "contact.merged": _("A contact was merged into another"),
    "contact.deleted": _("A contact was deleted with its conversation"),
    "instance.state": _("A WhatsApp number connected or disconnected"),
    "instance.qr": _("A new QR code is waiting to be scanned"),
    "bot.paused": _("The bot was paused for a number"),
    "bot.resumed": _("The bot was resumed for a number"),
}
# Sent only by "send a test event", to that one endpoint, whatever its filter.
TEST_EVENT_TYPE = "webhook.test"
EVENT_VERSION = 1
