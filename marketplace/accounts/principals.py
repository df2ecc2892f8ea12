"""Who a bearer credential is, remembered for a few seconds per process (issue 20: one round trip less).

Every request authenticates, and the lookup was a round trip of its own on the two hot endpoints.
A credential that checked out is remembered here, keyed by a hash of the whole bearer (never the
bearer itself), for AUTH_CACHE_S seconds at most and never past the token's own expiry. Revoking a
key or token and suspending an account forget the account's entries in this process at once; other
processes (gunicorn workers) notice within AUTH_CACHE_S, the stated bound. A failed lookup is never
remembered, so a wrong secret always costs the database read (and its constant-time check).
"""
import hashlib
import threading
import time
from datetime import datetime

MAX_ENTRIES = 10_000

_lock = threading.Lock()
_entries: dict[str, tuple[object, float, datetime | None]] = {}


def _key(bearer: str) -> str:
    return hashlib.sha256(bearer.encode()).hexdigest()


def recall(bearer: str, now: datetime):
    """The principal remembered for this bearer, if still fresh (else None)."""
    entry = _entries.get(_key(bearer))
    if entry is None:
        return None
    principal, until, expires_at = entry
    if time.monotonic() >= until or (expires_at is not None and expires_at <= now):
        return None
    return principal


def remember(bearer: str, principal, expires_at: datetime | None, ttl_s: float) -> None:
    if ttl_s <= 0:
        return
    with _lock:
        if len(_entries) >= MAX_ENTRIES:  # the oldest first: dicts keep insertion order
            for key in list(_entries)[: MAX_ENTRIES // 10]:
                del _entries[key]
        _entries[_key(bearer)] = (principal, time.monotonic() + ttl_s, expires_at)


def forget(account_id: int) -> None:
    """Drop every remembered credential of an account (revoked, suspended)."""
    with _lock:
        for key in [k for k, (principal, _, _) in _entries.items() if principal.id == account_id]:
            del _entries[key]


def clear() -> None:
    with _lock:
        _entries.clear()
