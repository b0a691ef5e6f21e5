"""The allow-lists an operator configures, parsed once from the environment.

``LEDGER_METRICS_ALLOW`` names the client networks that may scrape
``/metrics`` without a token; ``LEDGER_CORS_ORIGINS`` the browser origins
whose scripts may call the API from another site. Both are empty unless set,
which keeps metrics behind a token and cross-site calls off.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _items(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def networks(name: str, raw: str) -> tuple[Network, ...]:
    """``127.0.0.1, 10.0.0.0/8, ::1`` as networks (an address is a /32 or /128).

    Raises:
        ValueError: ``"NAME must be …, not 'VALUE'"`` for an item that is
            neither an address nor a network.
    """
    found = []
    for item in _items(raw):
        try:
            found.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            msg = (
                f"{name} must be comma-separated IP addresses or networks "
                f"(such as 127.0.0.1,10.0.0.0/8), not {item!r}"
            )
            raise ValueError(msg) from None
    return tuple(found)


def allows(allowed: tuple[Network, ...], address: str | None) -> bool:
    """Whether ``address`` (a client's, as the server saw it) is in ``allowed``."""
    if not allowed or not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in allowed)


def origins(name: str, raw: str) -> tuple[str, ...]:
    """``https://a.example, http://localhost:3000`` as origins, or ``*`` for any.

    An origin is a scheme, a host and an optional port, nothing more; a
    ``*`` in the host stands for any characters (``https://*.example``).

    Raises:
        ValueError: ``"NAME must be …, not 'VALUE'"`` for an item that is
            not one.
    """
    found = []
    for item in _items(raw):
        parts = urlsplit(item)
        if item != "*" and (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or item != f"{parts.scheme}://{parts.netloc}"
        ):
            msg = (
                f"{name} must be comma-separated origins such as "
                f"https://app.example or http://localhost:3000 (or *), not {item!r}"
            )
            raise ValueError(msg)
        found.append(item)
    return tuple(found)
