"""The outbound URL guard: webhooks never reach internal addresses (SSRF).

A destination URL is checked when it is saved and again before every
request, and the request then goes to the exact address that was checked,
so a DNS answer that changes in between (DNS rebinding) cannot redirect it.

Refused unless allowed in settings: loopback, link-local (cloud metadata
included), private and shared (carrier-grade NAT) ranges, multicast,
reserved and unspecified addresses, anything that is not globally routable.
``TRIBUTARY_WEBHOOK_ALLOWED_HOSTS`` lists host names, addresses or networks
(CIDR) that are always allowed; ``TRIBUTARY_WEBHOOK_ALLOW_PRIVATE`` allows
private and shared ranges (on-premises receivers) but not loopback,
link-local, multicast or reserved addresses.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from destinations.errors import BlockedURL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

_SHARED = ipaddress.ip_network("100.64.0.0/10")


@dataclass(frozen=True)
class Target:
    """Where to connect: the checked address, and the name for Host/TLS."""

    scheme: str
    host: str
    port: int
    address: str
    path: str


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise BlockedURL(f"cannot resolve {host}: {exc}", code="unresolvable_host") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url(url: str, *, resolver: Resolver | None = None) -> Target:
    """The address to send to, or BlockedURL saying why the URL is refused."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise BlockedURL("only http and https URLs are allowed", code="bad_scheme")
    if parts.username or parts.password:
        raise BlockedURL("URLs with credentials are not allowed", code="credentials_in_url")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise BlockedURL("the URL has no host", code="no_host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise BlockedURL("the URL has an invalid port", code="bad_port") from None
    addresses = (resolver or resolve)(host, port)
    if not addresses:
        raise BlockedURL(f"{host} has no address", code="unresolvable_host")
    for raw in addresses:
        address = ipaddress.ip_address(raw.split("%", 1)[0])
        reason = _refusal(host, address)
        if reason:
            raise BlockedURL(f"{host} resolves to {address}, {reason}", code="blocked_address")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=scheme, host=host, port=port, address=addresses[0], path=path)


def _refusal(host: str, address: IPAddress) -> str:
    """Why this address is refused, or "" when it is fine."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if _explicitly_allowed(host, address):
        return ""
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_reserved:
        return "a reserved address"
    private = address.is_private or address in _SHARED
    if private and settings.TRIBUTARY_WEBHOOK_ALLOW_PRIVATE:
        return ""
    if private:
        return "a private address"
    if not address.is_global:
        return "not a public address"
    return ""


def _explicitly_allowed(host: str, address: IPAddress) -> bool:
    for entry in settings.TRIBUTARY_WEBHOOK_ALLOWED_HOSTS:
        allowed = entry.strip().lower()
        if allowed == host:
            return True
        try:
            network = ipaddress.ip_network(allowed, strict=False)
        except ValueError:
            continue
        if address.version == network.version and address in network:
            return True
    return False
