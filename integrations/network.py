"""The SSRF guard: webhook requests only go to public addresses unless the operator allows otherwise."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from integrations.models import PRIVATE_ADDRESS


class UnsafeDestination(Exception):
    """The URL resolves to an address we refuse to call (or does not resolve at all)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _refused(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (address.is_loopback or address.is_private or address.is_link_local or address.is_multicast
            or address.is_reserved or address.is_unspecified or not address.is_global)


def resolve(url: str) -> list[IpAddress]:
    """Every address the URL's host resolves to, all of them allowed; raises UnsafeDestination otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UnsafeDestination(_("Use an http:// or https:// URL."))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port past 65535 passes URL validation but not urlsplit
        raise UnsafeDestination(_("Enter a valid URL.")) from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeDestination(_("The host name does not resolve.")) from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
    if not settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS:
        for address in addresses:
            if _refused(address):
                raise UnsafeDestination(
                    _(PRIVATE_ADDRESS) % {"host": parts.hostname, "address": address}
                )
    return addresses
