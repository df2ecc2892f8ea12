"""The SSRF guard: where a webhook may be sent.

A URL is accepted when it is https (http only with WEBHOOKS_ALLOW_HTTP), carries no credentials,
no whitespace or control characters (they are never deliverable, and CR/LF would split headers),
targets port 443 or 8443 (80 too with http; any port only with WEBHOOKS_ALLOW_PRIVATE_TARGETS, for
tests and local development, so a webhook cannot be aimed at a public host's database or mail port),
and every address its host resolves to is a public unicast address. One private answer among
public ones refuses the whole name: the connection could land on either. IPv6 forms that embed an
IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) are judged by the embedded address too.

The check runs at registration and again before each delivery, and the delivery connects to the
address that was checked (never re-resolving the name), so a DNS answer that changes between the
check and the connection (DNS rebinding) cannot redirect it.
"""
import ipaddress
import socket
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, ...
    "169.254.170.2",  # AWS ECS task metadata
    "100.100.100.200",  # Alibaba Cloud
    "fd00:ec2::254",  # AWS over IPv6
))
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
PORTS = frozenset({443, 8443})
HTTP_PORTS = frozenset({80})


class UnsafeTarget(ValueError):
    """The URL may not receive webhooks; the message says why."""

    def __init__(self, message: str, retryable: bool = False):
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    address: str  # the checked IP to connect to

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def resolve_host(host: str, port: int) -> list[str]:
    """Return every address a host name resolves to (tests replace this)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(address: str) -> str | None:
    """Say why webhooks may not go to this address, or None when it is a public unicast one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates = [c for c in (ip, _embedded_ipv4(ip) if ip.version == 6 else None) if c is not None]
    if any(candidate in METADATA for candidate in candidates):
        return f"a cloud metadata address ({address})"
    for candidate in candidates:
        for kind in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
            if getattr(candidate, f"is_{kind}"):
                return f"a {kind.replace('_', '-')} address ({address})"
        if not candidate.is_global:
            return f"a non-public address ({address})"
    return None


def parse(url: str, *, allow_http: bool, any_port: bool = False) -> tuple[str, str, int, str]:
    """Split a webhook URL into (scheme, host, port, path), refusing what may never be a target."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget(f"the URL is longer than {MAX_URL_LENGTH} characters")
    bad = next((ch for ch in url if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")), None)
    if bad is not None:
        raise UnsafeTarget(f"the URL contains whitespace or a control character ({bad!r}); percent-encode it")
    parts = urlsplit(url)
    allowed = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeTarget("the URL must start with https://" + (" or http://" if allow_http else ""))
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("the URL must not carry a user name or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeTarget("the URL has an invalid port")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeTarget("the URL has no host")
    allowed_ports = PORTS | (HTTP_PORTS if allow_http else frozenset())
    if not any_port and port not in allowed_ports:
        raise UnsafeTarget(f"the URL's port must be one of {', '.join(map(str, sorted(allowed_ports)))}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port, path


def check(url: str, *, allow_http: bool, allow_private: bool) -> Target:
    """Return where a delivery to this URL connects, or raise UnsafeTarget."""
    scheme, host, port, path = parse(url, allow_http=allow_http, any_port=allow_private)
    try:
        addresses = resolve_host(host, port)
    except (OSError, UnicodeError) as exc:
        raise UnsafeTarget(f"the host {host} does not resolve ({exc})", retryable=True)
    if not addresses:
        raise UnsafeTarget(f"the host {host} does not resolve", retryable=True)
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason:
                raise UnsafeTarget(f"the host {host} resolves to {reason}; webhooks go to public addresses only")
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0])
