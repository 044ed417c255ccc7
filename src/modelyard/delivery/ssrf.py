"""Where a webhook may send: never to internal addresses unless configuration allows them.

A receiver URL is a client's input. Without this guard a webhook pointed at
``http://169.254.169.254/`` or ``http://localhost:5432`` would make the server probe its own
network on the client's behalf.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from modelyard.errors import InvalidArgument

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Unresolvable(InvalidArgument):
    """The host has no address right now: worth another try later, unlike a refusal."""


def parse_networks(spec: str) -> tuple[Network, ...]:
    """``"127.0.0.1/32, 10.0.0.0/8"`` into networks; a bare address is a /32 or /128."""
    networks: list[Network] = []
    for item in spec.split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise InvalidArgument(
                    f"Invalid network {item.strip()!r} in the allowed webhook networks: "
                    "use CIDR notation such as 10.0.0.0/8."
                ) from None
    return tuple(networks)


def check_url(url: str) -> tuple[str, str, int]:
    """The scheme, host and port of a receiver URL, or InvalidArgument saying what is wrong."""
    if len(url) > 2048:
        raise InvalidArgument("Webhook URL is longer than 2048 characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        raise InvalidArgument(f"Invalid webhook URL {url!r}: bad host or port ({exc}).") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidArgument(f"Invalid webhook URL {url!r}: use an http:// or https:// URL.")
    if not host:
        raise InvalidArgument(f"Invalid webhook URL {url!r}: it names no host.")
    if parts.username or parts.password:
        raise InvalidArgument("Webhook URLs may not carry credentials; use a secret instead.")
    if port == 0:
        raise InvalidArgument(f"Invalid webhook URL {url!r}: port 0.")
    try:
        host.encode("idna")
    except UnicodeError:
        raise InvalidArgument(
            f"Invalid webhook URL {url!r}: {host!r} is not a host name."
        ) from None
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def check_destination(url: str, allowed: Sequence[Network]) -> None:
    """Refuse ``url`` when its host resolves to an address that is not public (loopback,
    private, link-local such as cloud metadata, reserved...) and not in ``allowed``.

    Raises:
        InvalidArgument: the URL is malformed, does not resolve, or is internal.
    """
    _scheme, host, port = check_url(url)
    checked_addresses(host, port, allowed)


def checked_addresses(host: str, port: int, allowed: Sequence[Network]) -> list[str]:
    """The addresses ``host`` resolves to, in the resolver's order, once every one of them is
    public or in ``allowed``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unresolvable(f"Webhook host {host!r} does not resolve: {exc}.") from None
    except UnicodeError:
        raise InvalidArgument(f"Webhook host {host!r} is not a host name.") from None
    found: list[str] = []
    for info in infos:
        address = _embedded_ipv4(ipaddress.ip_address(info[4][0]))
        if not (address.is_global or any(address in network for network in allowed)):
            raise InvalidArgument(
                f"Webhook host {host!r} resolves to the internal address {address}. Internal "
                "destinations are refused unless allowed: set MODELYARD_WEBHOOK_ALLOWED_NETWORKS "
                f"(e.g. {address}/32) on the server."
            )
        if str(info[4][0]) not in found:
            found.append(str(info[4][0]))
    return found


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64), which is where a request
    to it ends up; otherwise the address itself."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address
