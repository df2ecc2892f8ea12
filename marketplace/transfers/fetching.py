"""Fetch an import's file from a URL under the webhooks' SSRF rules (webhooks/targets.py).

The URL is checked when the import is created and again when the job fetches it, and the request
connects to the address that check resolved (never a fresh DNS answer), with the name in the Host
header and TLS SNI, the certificate verified for the name. No redirects (a 3xx fails the import
with its Location named), no proxy, a timeout per read; the body is streamed in pieces.
"""
import http.client
import socket
import ssl
from collections.abc import Iterator

from flask import current_app

from marketplace.errors import ValidationFailed, field_error
from marketplace.webhooks import targets

PIECE_BYTES = 256 * 1024
USER_AGENT = "Marketplace-Imports/1"


def checked(url: str) -> targets.Target:
    """Where a fetch of this URL connects, or a 422 naming `url` (the webhooks' rules and settings)."""
    config = current_app.config
    try:
        return targets.check(url, allow_http=config["WEBHOOKS_ALLOW_HTTP"],
                             allow_private=config["WEBHOOKS_ALLOW_PRIVATE_TARGETS"])
    except targets.UnsafeTarget as exc:
        raise field_error(exc.message, "url")


def _unavailable(message: str) -> ValidationFailed:
    return ValidationFailed(message, errors={"json": {"url": [message]}}, code="source_unavailable")


def download(url: str) -> Iterator[bytes]:
    """Yield the body at `url` in pieces; a refused URL, an error status or a broken connection raises a 422."""
    target = checked(url)
    timeout = current_app.config["TRANSFER_FETCH_TIMEOUT_S"]

    def pinned(_address, timeout, source_address=None):
        return socket.create_connection((target.address, target.port), timeout, source_address)

    if target.scheme == "https":
        conn = http.client.HTTPSConnection(target.host, target.port, timeout=timeout,
                                           context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    conn._create_connection = pinned
    try:
        conn.putrequest("GET", target.path, skip_host=True)
        conn.putheader("Host", target.host_header)
        conn.putheader("User-Agent", USER_AGENT)
        conn.endheaders()
        response = conn.getresponse()
        if response.status != 200:
            where = response.getheader("Location")
            raise _unavailable(f"fetching the file answered HTTP {response.status}" + (f" (to {where})" if where else ""))
        while piece := response.read(PIECE_BYTES):
            yield piece
    except (OSError, http.client.HTTPException) as exc:
        raise _unavailable(f"fetching the file failed: {type(exc).__name__}: {exc}")
    finally:
        conn.close()
