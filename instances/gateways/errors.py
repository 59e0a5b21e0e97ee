"""The typed errors every gateway adapter raises; `transient` says whether a retry can help."""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "***"


class GatewayError(Exception):
    """Base of every gateway failure; `transient` errors are worth a retry, the others are not."""

    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        transient: bool | None = None,
        details: tuple[object, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.details = details
        if transient is not None:
            self.transient = transient

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r})"


class GatewayUnreachable(GatewayError):
    """The gateway did not accept a connection (DNS, refused, TLS)."""

    transient = True


class GatewayTimeout(GatewayError):
    """The gateway did not answer within the timeout."""

    transient = True


class GatewayServerError(GatewayError):
    """The gateway answered 5xx."""

    transient = True


class GatewayNotConnected(GatewayError):
    """The instance has no open WhatsApp session right now (it may come back by itself)."""

    transient = True


class GatewayUnauthorized(GatewayError):
    """The API key or instance token was missing or wrong."""


class InstanceNotFound(GatewayError):
    """The gateway does not know the instance named in the path."""


class GatewayRefused(GatewayError):
    """The gateway refused the request and said why (`messages` holds its own words)."""

    @property
    def messages(self) -> tuple[str, ...]:
        """The gateway's messages, one string each."""
        return tuple(str(item) for item in self.details if isinstance(item, str))


class InstanceNameInUse(GatewayRefused):
    """Creating an instance whose name the gateway already holds."""


class NumberNotOnWhatsApp(GatewayRefused):
    """A send or check named a number that has no WhatsApp account."""

    @property
    def numbers(self) -> tuple[str, ...]:
        """The numbers the gateway reported as not existing."""
        found = []
        for item in self.details:
            if isinstance(item, dict) and item.get("exists") is False:
                found.append(str(item.get("number") or item.get("jid") or ""))
        return tuple(found)


class GatewayValidationError(GatewayError):
    """The gateway rejected the request body's shape (our bug or a version mismatch)."""


class GatewayProtocolError(GatewayError):
    """The gateway answered something we cannot read: a missing route, a non-JSON body, an unexpected shape."""


class GatewayUnsupported(GatewayError):
    """The gateway (or its version) has no usable route for this call: the caller cannot tell, not a failure."""


def normalise_messages(value: object) -> tuple[object, ...]:
    """Flatten Evolution's `response.message` (a string, a list, or a list of lists) into a tuple."""
    if value is None:
        return ()
    if isinstance(value, str | dict):
        return (value,)
    if isinstance(value, list | tuple):
        flat: list[object] = []
        for item in value:
            flat.extend(normalise_messages(item))
        return tuple(flat)
    return (str(value),)


def describe(items: Iterable[object]) -> str:
    """One readable line from normalised messages (dicts such as `{exists: false}` included)."""
    parts = []
    for item in items:
        if isinstance(item, dict) and item.get("exists") is False:
            parts.append(f"{item.get('number') or item.get('jid')} is not on WhatsApp")
        elif isinstance(item, dict):
            parts.append(", ".join(f"{key}={value}" for key, value in item.items()))
        else:
            parts.append(str(item))
    return "; ".join(part for part in parts if part)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret (API key, instance token) appearing in `text`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text
