"""Outbound HTTP to an address an integrator chose (webhook URLs), guarded against SSRF.

A URL is refused when its host is, or resolves to, an address that is not publicly routable:
private (10/8, 172.16/12, 192.168/16, fc00::/7), loopback, link-local (169.254/16, where cloud
metadata services answer), multicast, reserved, unspecified or shared (100.64/10). The check runs
twice: when the URL is saved (a clear 422 naming `url`) and when the worker connects, on every
address the name resolves to then and on the peer address of the socket actually connected (a
name that resolved to a public address at save time may resolve to 127.0.0.1 later: DNS
rebinding). No proxy from the environment is used: a proxy would connect on our behalf to an
address we never checked.

Settings (platform.settings): `webhook_allow_private_networks` lifts the rule and allows http://
(development and the tests, whose receivers listen on 127.0.0.1); `webhook_allowed_networks` opens
named networks (CIDRs) to https deliveries, for an integration engine inside the clinic's network.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from praxis.platform.errors import ValidationProblem
from praxis.platform.settings import get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedAddress(OSError):
    """The destination resolves to an address webhooks may not reach."""


def public(ip: IPAddress) -> bool:
    """True for a globally routable unicast address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified) and ip.is_global


def allowed(ip: IPAddress) -> bool:
    """May a webhook be delivered to this address under the current settings?"""
    settings = get_settings()
    if settings.webhook_allow_private_networks or public(ip):
        return True
    return any(ip in net for net in settings.webhook_allowed_network_list() if net.version == ip.version)


def _ip(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(value.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    """getaddrinfo for a TCP connection; `localhost` names never reach the resolver's whims."""
    if host.lower().rstrip(".") == "localhost" or host.lower().rstrip(".").endswith(".localhost"):
        host = "127.0.0.1"
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def check_url(url: str) -> str:
    """The URL stripped, or a 422 naming `url`: https (http only when private networks are
    allowed), a host, and no address the host resolves to that webhooks may not reach.

    A name that does not resolve now is accepted: the check that matters runs at delivery, on the
    address connected to (and an unresolvable name fails there, into the delivery log)."""
    url = url.strip()
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise ValidationProblem("The URL may not contain spaces or control characters", field="url")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise ValidationProblem("The URL is not valid (check the host's brackets)", field="url") from None
    allow_http = get_settings().webhook_allow_private_networks
    if parts.scheme != "https" and not (parts.scheme == "http" and allow_http):
        raise ValidationProblem("The URL must start with https://", field="url")
    if not host:
        raise ValidationProblem("The URL needs a host", field="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationProblem("The URL's port is not a number between 0 and 65535", field="url") from None
    literal = _ip(host)
    if literal is not None:  # an address written in the URL (a zone like %eth0 does not hide it)
        addresses = [literal]
    else:
        try:
            addresses = [ip for ip in (_ip(info[4][0]) for info in resolve(host, port)) if ip is not None]
        except (OSError, UnicodeError, ValueError):
            return url
    for ip in addresses:
        if not allowed(ip):
            raise ValidationProblem(
                f"The URL's host {host} is {ip}, an address that is not public (private, loopback, "
                "link-local, multicast or reserved); webhooks go to public addresses only", field="url")
    return url


class GuardedHTTPConnection(http.client.HTTPConnection):
    """Connects only to allowed addresses, checked on the resolved addresses and on the peer."""

    def connect(self) -> None:
        infos = resolve(self.host, self.port)
        refused = [str(ip) for ip in (_ip(i[4][0]) for i in infos) if ip is None or not allowed(ip)]
        if refused:
            raise RefusedAddress(f"refused: {self.host} resolves to {', '.join(refused)}, not a public address")
        error: OSError | None = None
        for family, kind, proto, _, sockaddr in infos:
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(self.timeout if isinstance(self.timeout, int | float) else None)
                sock.connect(sockaddr)
                peer = _ip(sock.getpeername()[0])
                if peer is None or not allowed(peer):
                    raise RefusedAddress(f"refused: connected to {peer}, not a public address")
            except OSError as exc:
                sock.close()
                if isinstance(exc, RefusedAddress):
                    raise
                error = exc
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = sock
            return
        raise error or OSError(f"no address for {self.host}")


class GuardedHTTPSConnection(http.client.HTTPSConnection, GuardedHTTPConnection):
    """TLS over the guarded connect: HTTPSConnection.connect calls super().connect() (ours), then
    wraps the socket with the URL's host name for SNI and certificate checks."""


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(GuardedHTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(GuardedHTTPSConnection, req, context=getattr(self, "_context", None))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is a failed delivery: following it could lead anywhere the subscriber points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def opener() -> urllib.request.OpenerDirector:
    """An opener with the guarded connections, no proxy and no redirects."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _HTTPHandler, _HTTPSHandler, _NoRedirect)
