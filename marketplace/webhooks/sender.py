"""Send one signed POST to a checked address, with the stdlib's http.client.

http.client rather than requests: a delivery must connect to the IP address the SSRF guard checked
while still sending the name in the Host header and in TLS SNI and verifying the certificate for
the name. That is one overridden method here; requests would need a custom transport adapter for
the same. Redirects are not followed (a 3xx is a failed attempt) and no proxy settings apply.
"""
import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from marketplace.webhooks.targets import Target

EXCERPT_BYTES = 1024
USER_AGENT = "Marketplace-Webhooks/1"


@dataclass(frozen=True)
class Response:
    status_code: int | None
    error: str | None
    excerpt: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def tls_context() -> ssl.SSLContext:
    """Return the TLS settings for deliveries: the system's trusted CAs, hostname checked."""
    return ssl.create_default_context()


def _connection(target: Target, timeout_s: float, ssl_context: ssl.SSLContext | None) -> http.client.HTTPConnection:
    def pinned(_address, timeout, source_address=None):
        return socket.create_connection((target.address, target.port), timeout, source_address)

    if target.scheme == "https":
        # The name stays the connection's host, so SNI and certificate checks use it.
        conn = http.client.HTTPSConnection(target.host, target.port, timeout=timeout_s,
                                           context=ssl_context or tls_context())
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout_s)
    conn._create_connection = pinned  # connect to the checked address, never a fresh DNS answer
    return conn


def post(target: Target, body: bytes, headers: dict, *, timeout_s: float,
         ssl_context: ssl.SSLContext | None = None) -> Response:
    """POST a body and report the status code or the error; never raises for network trouble."""
    started = time.monotonic()
    conn = _connection(target, timeout_s, ssl_context)
    status, error, excerpt = None, None, None
    try:
        conn.putrequest("POST", target.path, skip_host=True, skip_accept_encoding=True)
        for name, value in {"Host": target.host_header, "User-Agent": USER_AGENT,
                            "Content-Type": "application/json", "Content-Length": str(len(body)), **headers}.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        status = response.status
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", "replace")
        if not 200 <= status < 300:
            error = f"HTTP {status} {response.reason}".strip()
    except TimeoutError:
        error = f"timed out after {timeout_s:g} s"
    except ssl.SSLError as exc:
        error = f"TLS error: {exc.reason or exc}"
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()
    return Response(status_code=status, error=error, excerpt=excerpt,
                    duration_ms=int((time.monotonic() - started) * 1000))
