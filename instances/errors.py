"""Why an instance use case refused; each error's message is safe to show to the user."""

from __future__ import annotations

from django.utils.translation import gettext as _


class InstanceError(Exception):
    """Base of the instance use-case errors."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InstanceNameInvalid(InstanceError):
    """The name cannot be used on a gateway."""

    field = "name"


class InstanceTokenInvalid(InstanceNameInvalid):
    """The chosen instance token is not acceptable."""

    field = "token"


class PhoneNumberInvalid(InstanceNameInvalid):
    """The number given for a pairing code is not a full phone number."""

    field = "number"


class InstanceSettingsInvalid(InstanceNameInvalid):
    """A WhatsApp behaviour setting cannot be stored (the message to callers is too long or malformed)."""

    field = "call_rejection_message"


class InstanceNameTaken(InstanceError):
    """The company (or the gateway) already has an instance with this name."""


class InstanceLimitReached(InstanceError):
    """The company has as many instances as its plan allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(_("Your company may have at most %(limit)s instances.") % {"limit": limit})
        self.limit = limit


class GatewayUnavailable(InstanceError):
    """No gateway answered (or none is configured): the same request may work later."""

    retry_after = 30


class GatewayRejected(InstanceError):
    """The gateway refused the request and said why (its message is in `message`)."""
