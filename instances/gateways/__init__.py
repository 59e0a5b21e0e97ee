"""Gateway adapters: the only code in Recado that knows a gateway URL (see docs/gateways.md)."""

from __future__ import annotations

from .base import (
    Button,
    ConnectionState,
    ConnectResult,
    ContactCard,
    CreatedInstance,
    Gateway,
    InstanceInfo,
    InstanceSettings,
    ListRow,
    ListSection,
    Location,
    Media,
    MediaFile,
    MessageKey,
    NumberCheck,
    Quoted,
    SendOptions,
    SendResult,
    SentRecord,
    ServerInfo,
    WebhookConfig,
)
from .errors import (
    GatewayError,
    GatewayNotConnected,
    GatewayProtocolError,
    GatewayRefused,
    GatewayServerError,
    GatewayTimeout,
    GatewayUnauthorized,
    GatewayUnreachable,
    GatewayUnsupported,
    GatewayValidationError,
    InstanceNameInUse,
    InstanceNotFound,
    NumberNotOnWhatsApp,
)
from .events import parse_event
from .evolution_v1 import EvolutionV1Gateway
from .evolution_v2 import EvolutionV2Gateway
from .transport import DEFAULT_TIMEOUT

VERSIONS: dict[str, type[EvolutionV2Gateway]] = {"v1": EvolutionV1Gateway, "v2": EvolutionV2Gateway}


def gateway_for(base_url: str, version: str, api_key: str, *, timeout: float = DEFAULT_TIMEOUT) -> Gateway:
    """An adapter for one gateway server; close it (or use it as a context manager) when done."""
    try:
        adapter = VERSIONS[version]
    except KeyError:
        raise ValueError(f"unknown gateway version {version!r}; expected one of {sorted(VERSIONS)}") from None
    return adapter(base_url, api_key, timeout=timeout)


__all__ = [
    "Button",
    "ConnectResult",
    "ConnectionState",
    "ContactCard",
    "CreatedInstance",
    "Gateway",
    "GatewayError",
    "GatewayNotConnected",
    "GatewayProtocolError",
    "GatewayRefused",
    "GatewayServerError",
    "GatewayTimeout",
    "GatewayUnauthorized",
    "GatewayUnreachable",
    "GatewayUnsupported",
    "GatewayValidationError",
    "InstanceInfo",
    "InstanceNameInUse",
    "InstanceNotFound",
    "InstanceSettings",
    "ListRow",
    "ListSection",
    "Location",
    "Media",
    "MediaFile",
    "MessageKey",
    "NumberCheck",
    "NumberNotOnWhatsApp",
    "Quoted",
    "SendOptions",
    "SendResult",
    "SentRecord",
    "ServerInfo",
    "WebhookConfig",
    "gateway_for",
    "parse_event",
]
