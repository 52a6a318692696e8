"""Where deliveries may go: never to the service's own network unless an operator says so.

An endpoint's URL is ``https``, or ``http`` on a host listed in ``WEBHOOK_ALLOWED_HOSTS``.
Addresses in private, loopback, link-local (and other non-public) ranges are refused
unless their host is listed: checked on the URL when an endpoint is registered, and on
every address the host resolves to before each delivery, whose connection then goes to
the address that was checked (a name cannot resolve to another address in between).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048


class UnsafeUrl(ValueError):
    """The URL may not be called; the message says why."""


def allowed_hosts(setting: str | None) -> frozenset[str]:
    """``WEBHOOK_ALLOWED_HOSTS`` as a set (the setting is already lower case)."""
    return frozenset(host for host in (setting or "").split(",") if host)


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(url: str, allowed: frozenset[str]) -> str:
    """The URL's host, if the URL may be registered; else :class:`UnsafeUrl`."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise UnsafeUrl("the URL cannot be read") from None
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeUrl("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrl("the URL may not carry credentials")
    if host in allowed:
        if parts.scheme not in ("http", "https"):
            raise UnsafeUrl("the URL must be https (or http)")
        return host
    if parts.scheme != "https":
        raise UnsafeUrl("the URL must be https")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            raise UnsafeUrl("the URL's host is a loopback name") from None
        return host
    if not _public(literal):
        raise UnsafeUrl("the URL's address is not a public one")
    return host


@dataclass(frozen=True, slots=True)
class Target:
    """Where one attempt connects: the URL to request, and the Host/SNI name to give."""

    url: str
    host: str | None = None
    """Set when ``url`` names the checked address instead of the host."""


async def resolve_target(url: str, allowed: frozenset[str]) -> Target:
    """The address to deliver to, checked now; :class:`UnsafeUrl` if it may not be called."""
    host = check_url(url, allowed)
    if host in allowed:
        return Target(url)
    parts = urlsplit(url)
    port = parts.port or 443
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise UnsafeUrl("the URL's host does not resolve") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses or not all(_public(address) for address in addresses):
        raise UnsafeUrl("the URL's host resolves to an address that is not a public one")
    address = addresses[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    return Target(parts._replace(netloc=netloc).geturl(), host=parts.netloc)
