"""Bearer secrets: `<kind>_<prefix>.<secret>`; the prefix finds the row, the secret is hashed.

Secrets are 256-bit random values, so a single SHA-256 is the right hash for them: a slow password
hash (argon2) would add tens of milliseconds to every request and buys nothing against a
brute force of 2^256. Passwords, chosen by people, are hashed with argon2.
"""
import functools
import hashlib
import hmac
import secrets as _random

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

API_KEY = "mk"
TOKEN = "mt"

_passwords = PasswordHasher()


def new_secret(kind: str) -> tuple[str, str, str]:
    """Return (full bearer string, prefix, hash of the secret) for a new credential."""
    prefix = _random.token_hex(6)
    secret = _random.token_urlsafe(32)
    return f"{kind}_{prefix}.{secret}", prefix, hash_secret(secret)


def hash_secret(secret: str) -> str:
    """Hash a random secret for storage."""
    return hashlib.sha256(secret.encode()).hexdigest()


def split_bearer(bearer: str) -> tuple[str, str, str] | None:
    """Split a bearer string into (kind, prefix, secret), or None when malformed."""
    kind, _, rest = bearer.partition("_")
    prefix, _, secret = rest.partition(".")
    if kind not in (API_KEY, TOKEN) or not prefix or not secret or len(prefix) > 16:
        return None
    return kind, prefix, secret


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Compare a presented secret with a stored hash in constant time."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _passwords.hash(password)


def password_matches(password: str, stored_hash: str) -> bool:
    """Check a password against its argon2 hash."""
    try:
        return _passwords.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def dummy_password_hash() -> str:
    """Return a hash to verify against when the email is unknown, so both cases take as long."""
    return hash_password("not-a-real-password")
