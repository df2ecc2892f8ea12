"""Signatures: the documented recipe, the timestamp window, rotation's two entries, derived secrets."""
import hashlib
import hmac
import time

from marketplace.webhooks import signing
from marketplace.webhooks.signing import verify_signature

SECRET = "whsec_test-secret"
BODY = b'{"data":{"task_id":1},"event":"task.completed"}'


def _recipe(secret: str, timestamp: str, body: bytes) -> str:
    """The receiver's side, written from the module docstring alone."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_header_matches_the_documented_recipe_and_verifies():
    now = int(time.time())
    header = signing.signature_header([SECRET], now, BODY)
    assert header == f"v1={_recipe(SECRET, str(now), BODY)}"
    assert verify_signature(SECRET, str(now), BODY, header)
    assert verify_signature(SECRET, now, BODY.decode(), header)


def test_tampered_body_wrong_secret_or_bad_header_fail():
    now = int(time.time())
    header = signing.signature_header([SECRET], now, BODY)
    assert not verify_signature(SECRET, now, BODY + b" ", header)
    assert not verify_signature("whsec_other", now, BODY, header)
    assert not verify_signature(SECRET, now + 1, BODY, header)  # the timestamp is signed too
    assert not verify_signature(SECRET, now, BODY, "v0=" + header[3:])
    assert not verify_signature(SECRET, now, BODY, "")
    assert not verify_signature(SECRET, "soon", BODY, header)


def test_old_timestamps_are_refused_outside_the_tolerance():
    sent = int(time.time()) - 301
    header = signing.signature_header([SECRET], sent, BODY)
    assert not verify_signature(SECRET, sent, BODY, header)
    assert verify_signature(SECRET, sent, BODY, header, tolerance_s=600)
    assert verify_signature(SECRET, sent, BODY, header, now=sent + 10)


def test_during_rotation_either_secret_verifies():
    now = int(time.time())
    header = signing.signature_header(["whsec_new", "whsec_old"], now, BODY)
    assert header.count("v1=") == 2
    assert verify_signature("whsec_new", now, BODY, header)
    assert verify_signature("whsec_old", now, BODY, header)
    assert not verify_signature("whsec_neither", now, BODY, header)


def test_secrets_are_derived_from_the_server_key_and_salt():
    salt = signing.new_salt()
    secret = signing.derive_secret("key-1", salt)
    assert secret.startswith("whsec_") and len(secret) > 40
    assert signing.derive_secret("key-1", salt) == secret
    assert signing.derive_secret("key-2", salt) != secret
    assert signing.derive_secret("key-1", signing.new_salt()) != secret
    assert secret.startswith(signing.shown_prefix(secret)) and len(signing.shown_prefix(secret)) == 12
