"""CORS for browser client apps (an annotator app served from another origin), off unless origins are set.

Only the configured origins (CORS_ORIGINS, exact scheme://host[:port]) get the headers; credentials
are bearer tokens in `Authorization`, never cookies, so `supports_credentials` stays off. The
headers a client reads (request id, rate-limit state, idempotent replay, an export's file name) are
exposed; the ones it sends (Authorization, Idempotency-Key, X-Request-Id) are allowed. Preflights are
cached for an hour.
"""
from flask import Flask
from flask_cors import CORS

EXPOSED = ["X-Request-Id", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
           "Idempotent-Replayed", "Content-Disposition", "Location"]
ALLOWED = ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"]


def init_app(app: Flask) -> None:
    """Answer CORS requests from the configured origins on the API's routes."""
    origins = [origin.strip().rstrip("/") for origin in app.config["CORS_ORIGINS"] if origin.strip()]
    if not origins:
        return
    CORS(app, resources={r"/api/*": {"origins": origins}}, expose_headers=EXPOSED, allow_headers=ALLOWED,
         methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"], max_age=3600, supports_credentials=False,
         vary_header=True)
