"""Webhook secrets and signatures.

Every delivery carries

    X-Marketplace-Timestamp: <unix seconds when it was sent>
    X-Marketplace-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{raw_body}")>

Receivers verify it like this (`verify_signature` below does exactly this and may be copied):

1. Read the raw request body as bytes, before any JSON parsing.
2. Take the timestamp header; reject the request if it is more than 5 minutes from your clock
   (this stops an old, captured request from being replayed).
3. Compute `hmac_sha256(key=secret, msg=timestamp + "." + raw_body)` as lowercase hex; `secret` is
   the whole string shown when the endpoint was created or rotated (`whsec_...`), UTF-8 encoded.
4. The signature header is a comma-separated list of `v1=<hex>`; accept if any entry equals your
   value under a constant-time comparison. During a secret rotation there are two entries (new and
   previous secret), so a receiver can switch secrets without dropping events.
5. Deduplicate on `X-Marketplace-Delivery` (the event id): retries and replays reuse it.

Secrets are derived, not stored: HMAC-SHA256(server key, salt), with a random salt per endpoint.
A database copy without the server key (`WEBHOOKS_SECRET_KEY`, else `SECRET_KEY`) cannot sign;
changing that key changes every endpoint's secret, so set `WEBHOOKS_SECRET_KEY` once and keep it.
"""
import base64
import hashlib
import hmac
import secrets as _random
import time

SCHEME = "v1"
SECRET_PREFIX = "whsec_"
SHOWN_PREFIX_LEN = len(SECRET_PREFIX) + 6


def new_salt() -> str:
    """Return a random salt for a new endpoint secret."""
    return _random.token_hex(32)


def derive_secret(server_key: str, salt: str) -> str:
    """Return the endpoint secret that a server key and a salt stand for."""
    digest = hmac.new(server_key.encode(), b"webhook-secret:" + salt.encode(), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def shown_prefix(secret: str) -> str:
    """Return the part of a secret that may be shown again after creation."""
    return secret[:SHOWN_PREFIX_LEN]


def _hex(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secrets: list[str], timestamp: int, body: bytes) -> str:
    """Return the X-Marketplace-Signature value: one `v1=` entry per live secret."""
    return ",".join(f"{SCHEME}={_hex(secret, str(timestamp), body)}" for secret in secrets)


def verify_signature(secret: str, timestamp: str | int, body: bytes | str, header: str,
                     tolerance_s: int = 300, now: float | None = None) -> bool:
    """Tell whether a delivery's signature header is valid for this secret and recent enough."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance_s:
        return False
    raw = body.encode() if isinstance(body, str) else body
    expected = _hex(secret, str(sent), raw)
    found = False
    for entry in (header or "").split(","):
        scheme, _, value = entry.strip().partition("=")
        # Compare every entry, so the time taken does not say which one matched.
        found |= scheme == SCHEME and hmac.compare_digest(value.encode(), expected.encode())
    return found
